using MLDefense.Data;

namespace MLDefense.Training;

/// <summary>
/// One of NAMID's MI estimation networks E_φ (Zhou et al., Sec. 3.2.2 and Appendix A, Eq. 12): the local DIM estimator
/// of Hjelm et al. ("Learning Deep Representations by Mutual Information Estimation and Maximization", ICLR 2019) in its
/// Donsker–Varadhan form (MINE, Eq. 11), between a local feature map C_ψ of an image-like input (the natural image x for
/// the natural MI E_n, the adversarial noise x̃ − x for the adversarial MI E_a) and a classifier's logits h(·).
/// </summary>
/// <remarks>
/// <para>The architecture is the one Zhou et al. take from Zhu et al. (2020) as the authors' code builds it
/// (dwDavidxd/MIAT, <c>models/estimator.py</c> and <c>models/discriminators.py</c>, read for understanding): the local
/// encoder C_ψ is Conv(64, 4×4, stride 2, pad 1) + BN + ReLU, Conv(128, 4×4, stride 2, pad 1) + BN + ReLU (a 28×28 image
/// gives 7×7 locations, a 32×32 one 8×8), then a 1×1 residual block to U units; the logits [N, K] are read as a 1×1 map by a
/// 1×1 residual block to U units. A residual block is Conv1×1(no bias) + BN + ReLU + Conv1×1, plus a Conv1×1 shortcut
/// initialised close to the identity where U ≥ its input (uniform ±0.01 with ones on the diagonal), then LayerNorm over the
/// channels. U is <see cref="NamidOptions.EstimatorHiddenSize"/> (the authors' 2048).</para>
/// <para>Scores T(i, j, p) = G_i · L_j(p) pair the global vector of sample i with the local vector of sample j at location
/// p. The per-sample DV estimate is Î_i = mean_p [T(i, i, p) − log mean_{j≠i} exp T(i, j, p)]: positives are a sample's
/// own local features, negatives those of the other samples in the batch (so a batch needs at least two). The
/// authors' code instead takes the log-mean-exp over all j with the positive score replaced by 0 (a masking shortcut);
/// this excludes the positive properly. The local input is detached: gradients reach the classifier only through the
/// logits, as in the authors' code.</para>
/// </remarks>
internal sealed class LocalDimEstimator : Module
{
    private readonly Sequential encoder;
    private readonly ResidualProjection localHead, globalHead;

    public LocalDimEstimator(ImageShape shape, int classCount, int hiddenSize) : base(nameof(LocalDimEstimator))
    {
        encoder = Sequential(
            Conv2d(shape.Channels, 64, 4, stride: 2, padding: 1, bias: false), BatchNorm2d(64), ReLU(),
            Conv2d(64, 128, 4, stride: 2, padding: 1, bias: false), BatchNorm2d(128), ReLU());
        localHead = new ResidualProjection(128, hiddenSize);
        globalHead = new ResidualProjection(classCount, hiddenSize);
        RegisterComponents();
        TensorCensus.Record(this);
    }

    /// <summary>The local feature map L = C_ψ(input) as [N, U, P] (P locations), from a detached input [N, C, H, W].</summary>
    public Tensor LocalFeatures(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var map = localHead.forward(encoder.forward(input.detach()));
        return map.flatten(2).MoveToOuterDisposeScope();
    }

    /// <summary>The per-sample DV estimates Î_i [N] of local features [N, U, P] against logits [N, K].</summary>
    public Tensor Estimate(Tensor local, Tensor logits)
    {
        using var scope = torch.NewDisposeScope();
        long n = logits.size(0);
        if (n < 2) throw new ArgumentException($"A DV estimate needs a batch of at least 2 samples; found {n}.", nameof(logits));
        var global = globalHead.forward(logits.unsqueeze(2).unsqueeze(3)).flatten(1);          // [N, U]
        var scores = torch.einsum("iu,jup->ijp", global, local);                               // [N, N, P]
        var eye = torch.eye(n, dtype: ScalarType.Bool, device: logits.device).unsqueeze(2);    // [N, N, 1]
        var positive = scores.diagonal(0, 0, 1).transpose(0, 1);                               // [N, P]
        var negative = scores.masked_fill(eye, double.NegativeInfinity).logsumexp(1).sub(Math.Log(n - 1));  // [N, P]
        return positive.sub(negative).mean([1]).MoveToOuterDisposeScope();
    }

    /// <summary>A 1×1 residual projection to U units followed by LayerNorm over the channels.</summary>
    private sealed class ResidualProjection : Module<Tensor, Tensor>
    {
        private readonly Sequential block;
        private readonly Conv2d shortcut;
        private readonly LayerNorm norm;

        public ResidualProjection(int inputs, int units) : base(nameof(ResidualProjection))
        {
            block = Sequential(Conv2d(inputs, units, 1, bias: false), BatchNorm2d(units), ReLU(), Conv2d(units, units, 1));
            shortcut = Conv2d(inputs, units, 1, bias: false);
            norm = LayerNorm(units);
            if (units >= inputs)
            {
                using var _ = torch.no_grad();
                using var scope = torch.NewDisposeScope();
                var noise = torch.empty([units, inputs, 1, 1]).uniform_(-0.01, 0.01);
                var identity = torch.eye(units, inputs).reshape(units, inputs, 1, 1);
                shortcut.weight!.copy_(torch.where(identity.gt(0), identity, noise));
            }
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = torch.NewDisposeScope();
            var sum = block.forward(input).add(shortcut.forward(input));
            return norm.forward(sum.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).MoveToOuterDisposeScope();
        }
    }
}
