using System.Globalization;
using MLDefense.Attacks;

namespace MLDefense.Benchmarks;

/// <summary>
/// How much work the benchmarks give CW-L2 (κ = 0, Adam at Carlini and Wagner's learning rate 0.01, early abort): the
/// binary-search steps over c, the Adam iterations per step and the initial c. One budget for every benchmark, so that
/// "CW-L2" means the same attack in <c>bench attacks</c>, <c>bench aegan</c> and <c>bench miaed</c>.
/// </summary>
/// <remarks>
/// The iteration count is what matters. In the change of variables x' = ½(tanh(w) + 1), a pixel at exactly 0 or 1 starts
/// at w ≈ ∓7.25, and Adam moves w by about the learning rate per iteration, so with lr 0.01 a saturated pixel needs
/// hundreds of iterations before it can move at all — and MNIST's pixels are nearly all saturated. Measured on the C1
/// MNIST classifier (first 100 test images, <c>attacks_reference.py</c>'s CW-L2, which MLDefense's matches): 2 steps × 50
/// iterations from c = 1 left 94% of the images correctly classified; 1 step × 500 left none (mean L2 1.46); 1 × 1000
/// none (1.41); 3 × 1000 none (1.40). Carlini and Wagner's own settings (9 × 10 000 from c = 0.001) are
/// <see cref="CarliniWagnerL2Options"/>' defaults.
/// </remarks>
/// <param name="BinarySearchSteps">Binary-search steps over c (≥ 1).</param>
/// <param name="Iterations">Adam iterations per binary-search step (≥ 1).</param>
/// <param name="InitialConstant">The initial c (&gt; 0).</param>
public sealed record CarliniWagnerBudget(int BinarySearchSteps, int Iterations, double InitialConstant)
{
    /// <summary>The full benchmarks' budget: 5 binary-search steps × 1 000 iterations from c = 1 (sized for a GPU).</summary>
    public static CarliniWagnerBudget Full { get; } = new(5, 1_000, 1);

    /// <summary>
    /// The quick benchmarks' budget: a single step of 500 iterations at c = 1 — enough for every C1 MNIST image (see the
    /// remarks), at a mean L2 about 5% above a 3-step search's; about a third of a second per image on two CPU cores.
    /// </summary>
    public static CarliniWagnerBudget Quick { get; } = new(1, 500, 1);

    /// <summary>The attack with this budget (untargeted, κ = 0, learning rate 0.01, early abort).</summary>
    public CarliniWagnerL2Attack CreateAttack() => new(new CarliniWagnerL2Options
    {
        Confidence = 0, BinarySearchSteps = BinarySearchSteps, MaxIterations = Iterations, InitialConstant = InitialConstant,
    });

    /// <summary>The budget in words, e.g. <c>5 binary-search steps × up to 1000 Adam iterations (lr 0.01, early abort) from c = 1, κ 0</c>.</summary>
    public string Describe() =>
        $"{BinarySearchSteps} binary-search step{(BinarySearchSteps == 1 ? "" : "s")} × up to {Iterations} Adam iterations (lr 0.01, early abort) "
        + $"from c = {InitialConstant.ToString(CultureInfo.InvariantCulture)}, κ 0";

    internal void Validate()
    {
        if (BinarySearchSteps < 1 || Iterations < 1 || !(InitialConstant > 0))
            throw new ArgumentOutOfRangeException(nameof(CarliniWagnerBudget),
                $"CW-L2's binary-search steps and iterations must be at least 1 and its initial c positive (got {BinarySearchSteps}, {Iterations}, {InitialConstant}).");
    }
}
