using MLDefense.Classifiers;

namespace MLDefense.Attacks;

/// <summary>
/// The attacks as transforms: <c>ml.Transforms.Attacks.Pgd(classifier, epsilon: 0.3)</c> is an estimator whose transformer
/// adds an adversarial image column, so an evaluation is a pipeline. Each attack has a flat overload (required parameters,
/// then the column names, then the rest with the papers' defaults) and one taking its options class; <see cref="Attack"/>
/// takes any <see cref="IAdversarialAttack"/>. See <see cref="AttackTransformer"/> for the columns; attack transformers are
/// not savable because they hold a live classifier.
/// </summary>
public static class AttacksCatalogExtensions
{
    extension(Microsoft.ML.TransformsCatalog catalog)
    {
        /// <summary>The attacks as ML.NET transforms: <c>ml.Transforms.Attacks.Pgd(classifier, epsilon: 0.3)</c>.</summary>
        public AttacksCatalog Attacks => new();
    }

    /// <summary>The rows attacked at once by the named overloads.</summary>
    public const int DefaultAttackBatchSize = 128;

    /// <summary>Any attack as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked (its device is where the attack runs).</param>
    /// <param name="attack">The attack.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1) (the target class for a targeted attack).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    /// <param name="attackBatchSize">The most rows attacked at once.</param>
    /// <param name="cancellationToken">Stops the attack between iterations (reading the output column then throws <see cref="OperationCanceledException"/>).</param>
    public static AttackEstimator Attack(this AttacksCatalog catalog, IDifferentiableClassifier classifier, IAdversarialAttack attack,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial",
        int attackBatchSize = DefaultAttackBatchSize, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AttackEstimator(classifier, attack, imageColumnName, labelColumnName, outputColumnName, attackBatchSize, cancellationToken);
    }

    /// <summary>FGSM (L∞; <see cref="FastGradientAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="epsilon">The L∞ budget ε (&gt; 0).</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1) (target class when <paramref name="targeted"/>).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    /// <param name="targeted">Whether the labels are targets.</param>
    public static AttackEstimator Fgsm(this AttacksCatalog catalog, IDifferentiableClassifier classifier, double epsilon,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial", bool targeted = false) =>
        catalog.FastGradient(classifier, new FastGradientOptions { Epsilon = epsilon, Norm = AttackNorm.Linf, Targeted = targeted }, imageColumnName, labelColumnName, outputColumnName);

    /// <summary>FGM (L2; <see cref="FastGradientAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="epsilon">The L2 budget ε (&gt; 0).</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1) (target class when <paramref name="targeted"/>).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    /// <param name="targeted">Whether the labels are targets.</param>
    public static AttackEstimator Fgm(this AttacksCatalog catalog, IDifferentiableClassifier classifier, double epsilon,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial", bool targeted = false) =>
        catalog.FastGradient(classifier, new FastGradientOptions { Epsilon = epsilon, Norm = AttackNorm.L2, Targeted = targeted }, imageColumnName, labelColumnName, outputColumnName);

    /// <summary>FGSM or FGM (by <see cref="FastGradientOptions.Norm"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="options">The attack's options.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1) (target class for a targeted attack).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    public static AttackEstimator FastGradient(this AttacksCatalog catalog, IDifferentiableClassifier classifier, FastGradientOptions options,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial") =>
        catalog.Attack(classifier, new FastGradientAttack(options), imageColumnName, labelColumnName, outputColumnName);

    /// <summary>BIM (<see cref="BasicIterativeAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="epsilon">The budget ε (&gt; 0).</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    /// <param name="stepSize">The step size α.</param>
    /// <param name="iterations">The number of iterations.</param>
    /// <param name="norm">The norm of the budget and the step.</param>
    public static AttackEstimator Bim(this AttacksCatalog catalog, IDifferentiableClassifier classifier, double epsilon,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial",
        double stepSize = 0.01, int iterations = 40, AttackNorm norm = AttackNorm.Linf) =>
        catalog.Bim(classifier, new BasicIterativeOptions { Epsilon = epsilon, StepSize = stepSize, Iterations = iterations, Norm = norm },
            imageColumnName, labelColumnName, outputColumnName);

    /// <summary>BIM (<see cref="BasicIterativeAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="options">The attack's options.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    public static AttackEstimator Bim(this AttacksCatalog catalog, IDifferentiableClassifier classifier, BasicIterativeOptions options,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial") =>
        catalog.Attack(classifier, new BasicIterativeAttack(options), imageColumnName, labelColumnName, outputColumnName);

    /// <summary>PGD (<see cref="ProjectedGradientDescentAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="epsilon">The budget ε (&gt; 0).</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1) (target class when <paramref name="targeted"/>).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    /// <param name="stepSize">The step size α.</param>
    /// <param name="iterations">The number of iterations per run.</param>
    /// <param name="norm">The norm of the budget and the step.</param>
    /// <param name="randomStart">Whether runs start at a random point of the ε-ball.</param>
    /// <param name="restarts">The number of runs per image.</param>
    /// <param name="targeted">Whether the labels are targets.</param>
    public static AttackEstimator Pgd(this AttacksCatalog catalog, IDifferentiableClassifier classifier, double epsilon,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial",
        double stepSize = 0.01, int iterations = 40, AttackNorm norm = AttackNorm.Linf, bool randomStart = true, int restarts = 1, bool targeted = false) =>
        catalog.Pgd(classifier, new ProjectedGradientDescentOptions
        {
            Epsilon = epsilon, StepSize = stepSize, Iterations = iterations, Norm = norm, RandomStart = randomStart, Restarts = restarts, Targeted = targeted,
        }, imageColumnName, labelColumnName, outputColumnName);

    /// <summary>PGD (<see cref="ProjectedGradientDescentAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="options">The attack's options.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1) (target class for a targeted attack).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    public static AttackEstimator Pgd(this AttacksCatalog catalog, IDifferentiableClassifier classifier, ProjectedGradientDescentOptions options,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial") =>
        catalog.Attack(classifier, new ProjectedGradientDescentAttack(options), imageColumnName, labelColumnName, outputColumnName);

    /// <summary>MI-FGSM (<see cref="MomentumIterativeAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="epsilon">The L∞ budget ε (&gt; 0).</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    /// <param name="iterations">The number of iterations T.</param>
    /// <param name="decayFactor">The momentum decay μ.</param>
    /// <param name="stepSize">The step size α (null: ε/T).</param>
    public static AttackEstimator Mim(this AttacksCatalog catalog, IDifferentiableClassifier classifier, double epsilon,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial",
        int iterations = 10, double decayFactor = 1.0, double? stepSize = null) =>
        catalog.Mim(classifier, new MomentumIterativeOptions { Epsilon = epsilon, Iterations = iterations, DecayFactor = decayFactor, StepSize = stepSize },
            imageColumnName, labelColumnName, outputColumnName);

    /// <summary>MI-FGSM (<see cref="MomentumIterativeAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="options">The attack's options.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    public static AttackEstimator Mim(this AttacksCatalog catalog, IDifferentiableClassifier classifier, MomentumIterativeOptions options,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial") =>
        catalog.Attack(classifier, new MomentumIterativeAttack(options), imageColumnName, labelColumnName, outputColumnName);

    /// <summary>Carlini–Wagner L2 (<see cref="CarliniWagnerL2Attack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1) (target class when <paramref name="targeted"/>).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    /// <param name="confidence">κ.</param>
    /// <param name="initialConstant">The initial c.</param>
    /// <param name="binarySearchSteps">The number of binary-search steps over c.</param>
    /// <param name="maxIterations">Adam iterations per binary-search step.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    /// <param name="targeted">Whether the labels are targets.</param>
    public static AttackEstimator CarliniWagnerL2(this AttacksCatalog catalog, IDifferentiableClassifier classifier,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial",
        double confidence = 0, double initialConstant = 1e-3, int binarySearchSteps = 9, int maxIterations = 10_000, double learningRate = 0.01, bool targeted = false) =>
        catalog.CarliniWagnerL2(classifier, new CarliniWagnerL2Options
        {
            Confidence = confidence, InitialConstant = initialConstant, BinarySearchSteps = binarySearchSteps, MaxIterations = maxIterations,
            LearningRate = learningRate, Targeted = targeted,
        }, imageColumnName, labelColumnName, outputColumnName);

    /// <summary>Carlini–Wagner L2 (<see cref="CarliniWagnerL2Attack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="options">The attack's options.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1) (target class for a targeted attack).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    public static AttackEstimator CarliniWagnerL2(this AttacksCatalog catalog, IDifferentiableClassifier classifier, CarliniWagnerL2Options options,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial") =>
        catalog.Attack(classifier, new CarliniWagnerL2Attack(options), imageColumnName, labelColumnName, outputColumnName);

    /// <summary>DeepFool (<see cref="DeepFoolAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    /// <param name="norm">L2 (default) or L∞.</param>
    /// <param name="overshoot">η.</param>
    /// <param name="maxIterations">The most steps per image.</param>
    public static AttackEstimator DeepFool(this AttacksCatalog catalog, IDifferentiableClassifier classifier,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial",
        AttackNorm norm = AttackNorm.L2, double overshoot = 0.02, int maxIterations = 50) =>
        catalog.DeepFool(classifier, new DeepFoolOptions { Norm = norm, Overshoot = overshoot, MaxIterations = maxIterations },
            imageColumnName, labelColumnName, outputColumnName);

    /// <summary>DeepFool (<see cref="DeepFoolAttack"/>) as a transform.</summary>
    /// <param name="catalog">The catalog.</param>
    /// <param name="classifier">The model attacked.</param>
    /// <param name="options">The attack's options.</param>
    /// <param name="imageColumnName">The clean image column.</param>
    /// <param name="labelColumnName">The true-class column (a key, or Int32 0..K−1).</param>
    /// <param name="outputColumnName">The adversarial image column to add.</param>
    public static AttackEstimator DeepFool(this AttacksCatalog catalog, IDifferentiableClassifier classifier, DeepFoolOptions options,
        string imageColumnName = "Image", string labelColumnName = "Label", string outputColumnName = "Adversarial") =>
        catalog.Attack(classifier, new DeepFoolAttack(options), imageColumnName, labelColumnName, outputColumnName);
}

/// <summary>
/// <c>ml.Transforms.Attacks</c>: the attack estimators (<see cref="AttacksCatalogExtensions"/>), the same on ML.NET's
/// catalog and the legacy one. An attack needs no context: it runs on the classifier's device.
/// </summary>
public sealed class AttacksCatalog
{
    internal AttacksCatalog()
    {
    }
}
