using ImageShape = MLDefense.Data.ImageShape;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

/// <summary>The sizes of ContraNet's networks, fixed by the image, the class count and the width options.</summary>
/// <param name="Image">The image shape [C, H, W].</param>
/// <param name="ClassCount">K, the classifier's classes (the length of its Score).</param>
/// <param name="LatentSize">z's length (the encoder's μ and log σ²).</param>
/// <param name="GeneratorWidth">The generator's and encoder's base channels.</param>
/// <param name="DiscriminatorWidth">The discriminator's base channels.</param>
/// <param name="MetricWidth">The metric model's base channels.</param>
/// <param name="EmbeddingSize">The metric embedding's length.</param>
internal sealed record ContraNetArchitecture(ImageShape Image, int ClassCount, int LatentSize, int GeneratorWidth, int DiscriminatorWidth,
    int MetricWidth, int EmbeddingSize)
{
    internal static ContraNetArchitecture From(ContraNetOptions o, ImageShape image, int classCount) =>
        new(image, classCount, o.LatentSize, o.GeneratorWidth, o.DiscriminatorWidth, o.MetricWidth, o.EmbeddingSize);

    /// <summary>The generator's first feature map: ⌈H/4⌉ × ⌈W/4⌉ (two ×2 up-samplings reach H × W or a little more, cropped).</summary>
    internal (int Height, int Width) GeneratorBase => ((Image.Height + 3) / 4, (Image.Width + 3) / 4);

    /// <summary>The encoder's last feature map: two 4×4 stride-2 convolutions with padding 1 halve (floor) each side twice.</summary>
    internal (int Height, int Width) EncoderTop => (Image.Height / 2 / 2, Image.Width / 2 / 2);
}

/// <summary>
/// Spectral normalisation (Miyato et al., "Spectral Normalization for Generative Adversarial Networks", ICLR 2018, Alg. 1) of a
/// weight: W / σ(W), σ estimated by one power iteration per training forward pass with a persistent vector u (a buffer, so saved
/// and restored with the module). TorchSharp 0.107 has no <c>torch.nn.utils.spectral_norm</c>, so this implements it; as in
/// PyTorch's, u and v carry no gradient and evaluation mode reuses the stored u without iterating.
/// </summary>
internal static class SpectralNorm
{
    /// <summary>W / σ(W) for <paramref name="weight"/> viewed as [out, rest]; updates <paramref name="u"/> in training mode.</summary>
    internal static Tensor Normalise(Tensor weight, Tensor u, bool training)
    {
        using var scope = torch.NewDisposeScope();
        var matrix = weight.reshape(weight.size(0), -1);
        Tensor v;
        using (torch.no_grad())
        {
            var current = u;
            v = F.normalize(matrix.t().mv(current), p: 2, dim: 0, eps: 1e-12);
            if (training)
            {
                var next = F.normalize(matrix.mv(v), p: 2, dim: 0, eps: 1e-12);
                u.copy_(next);
            }
        }
        // A copy of u: a later forward pass in the same graph (D on real, then on fake images) updates u in place, which must not
        // change what this pass's backward reads (PyTorch's spectral_norm clones u and v for the same reason).
        var sigma = u.clone().dot(matrix.mv(v));
        return (weight / sigma).MoveToOuterDisposeScope();
    }

    internal static Tensor InitialU(long rows)
    {
        using var raw = torch.randn(rows);
        return F.normalize(raw, p: 2, dim: 0, eps: 1e-12);
    }
}

/// <summary>A 2-D convolution with a spectrally normalised weight (Xavier-uniform initialisation, zero bias).</summary>
internal sealed class SnConv2d : Module<Tensor, Tensor>
{
    private readonly long stride, padding;

    public SnConv2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0) : base(nameof(SnConv2d))
    {
        (this.stride, this.padding) = (stride, padding);
        // Through RegisterParameter/RegisterBuffer: the module owns its tensors even when built inside a caller's dispose scope (ModuleExtensions).
        weight = this.RegisterParameter("weight", torch.nn.init.xavier_uniform_(torch.empty(outChannels, inChannels, kernel, kernel)));
        bias = this.RegisterParameter("bias", torch.zeros(outChannels));
        u = this.RegisterBuffer("u", SpectralNorm.InitialU(outChannels));
    }

    private readonly Parameter weight, bias;
    private readonly Tensor u;

    public override Tensor forward(Tensor x)
    {
        using var w = SpectralNorm.Normalise(weight, u, training);
        return F.conv2d(x, w, bias, strides: [stride, stride], padding: [padding, padding]);
    }
}

/// <summary>A linear layer with a spectrally normalised weight (Xavier-uniform initialisation, zero bias).</summary>
internal sealed class SnLinear : Module<Tensor, Tensor>
{
    public SnLinear(long inFeatures, long outFeatures, bool hasBias = true) : base(nameof(SnLinear))
    {
        // Through RegisterParameter/RegisterBuffer: the module owns its tensors even when built inside a caller's dispose scope (ModuleExtensions).
        weight = this.RegisterParameter("weight", torch.nn.init.xavier_uniform_(torch.empty(outFeatures, inFeatures)));
        if (hasBias) bias = this.RegisterParameter("bias", torch.zeros(outFeatures));
        u = this.RegisterBuffer("u", SpectralNorm.InitialU(outFeatures));
    }

    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly Tensor u;

    public override Tensor forward(Tensor x)
    {
        using var w = SpectralNorm.Normalise(weight, u, training);
        return F.linear(x, w, bias);
    }
}

/// <summary>
/// Class-conditional batch normalisation (de Vries et al., 2017; Miyato &amp; Koyama's projection-GAN generator, the paper's
/// Ref. [54]): batch normalisation without its own affine parameters, then a per-class gain and bias,
/// out = BN(x)·(1 + γ[y]) + β[y], γ and β embeddings initialised at zero (so it starts as plain BN).
/// </summary>
/// <remarks>
/// The labels are class indices (Int64 [N]) or class weights (floating [N, K]): with weights w the gain and bias are w·γ and w·β, which
/// for a one-hot row is exactly γ[y] and β[y]. The weights form exists for the adaptive attacks of Sec. 6: BPDA's straight-through
/// label (<see cref="ContraNetBpdaAttack"/>) is one-hot in the forward pass and carries softmax's gradient in the backward pass.
/// </remarks>
internal sealed class ConditionalBatchNorm : Module<Tensor, Tensor, Tensor>
{
    public ConditionalBatchNorm(long channels, long classes) : base(nameof(ConditionalBatchNorm))
    {
        Norm = this.Register("norm", torch.nn.BatchNorm2d(channels, affine: false));
        // Through RegisterParameter: the module owns its tensors even when built inside a caller's dispose scope (ModuleExtensions).
        gain = this.RegisterParameter("gain", torch.zeros(classes, channels));
        bias = this.RegisterParameter("bias", torch.zeros(classes, channels));
    }

    private readonly Parameter gain, bias;

    public BatchNorm2d Norm { get; }

    public override Tensor forward(Tensor x, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var normalised = Norm.forward(x);
        bool weights = labels.dim() == 2;
        var g = (weights ? labels.matmul(gain) : gain.index_select(0, labels)).unsqueeze(-1).unsqueeze(-1);
        var b = (weights ? labels.matmul(bias) : bias.index_select(0, labels)).unsqueeze(-1).unsqueeze(-1);
        return (normalised * (g + 1) + b).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The encoder q(z|x) of Fig. 4 with its VAE head: Conv 3×3 (C → w) – LeakyReLU 0.2 – Conv 4×4/2 (w → 2w) – BN – LeakyReLU –
/// Conv 4×4/2 (2w → 4w) – BN – LeakyReLU – flatten – FC → μ, FC → log σ² (each of <see cref="ContraNetOptions.LatentSize"/>). The
/// authors' code uses a DCGAN-style encoder with the same VAE head; this is its CPU-sized form.
/// </summary>
internal sealed class ContraNetEncoder : Module<Tensor, (Tensor Mean, Tensor LogVariance)>
{
    public ContraNetEncoder(ContraNetArchitecture a) : base(nameof(ContraNetEncoder))
    {
        int w = a.GeneratorWidth;
        var (h, wd) = a.EncoderTop;
        Features = this.Register("features", torch.nn.Sequential(
            torch.nn.Conv2d(a.Image.Channels, w, 3, padding: 1), torch.nn.LeakyReLU(0.2),
            torch.nn.Conv2d(w, 2 * w, 4, stride: 2, padding: 1), torch.nn.BatchNorm2d(2 * w), torch.nn.LeakyReLU(0.2),
            torch.nn.Conv2d(2 * w, 4 * w, 4, stride: 2, padding: 1), torch.nn.BatchNorm2d(4 * w), torch.nn.LeakyReLU(0.2),
            torch.nn.Flatten()));
        Mean = this.Register("mean", torch.nn.Linear(4L * w * h * wd, a.LatentSize));
        LogVariance = this.Register("log_variance", torch.nn.Linear(4L * w * h * wd, a.LatentSize));
        TensorCensus.Record(this);
    }

    public Sequential Features { get; }
    public Linear Mean { get; }
    public Linear LogVariance { get; }

    public override (Tensor Mean, Tensor LogVariance) forward(Tensor x)
    {
        using var features = Features.forward(x);
        return (Mean.forward(features), LogVariance.forward(features));
    }
}

/// <summary>A generator residual block (StudioGAN's big-ResNet GenBlock): CBN – ReLU – ×2 up – SN conv 3×3 – CBN – ReLU – SN conv 3×3, plus ×2 up – SN conv 1×1 of the input.</summary>
internal sealed class GeneratorBlock : Module<Tensor, Tensor, Tensor>
{
    public GeneratorBlock(long inChannels, long outChannels, long classes) : base(nameof(GeneratorBlock))
    {
        Norm1 = this.Register("norm1", new ConditionalBatchNorm(inChannels, classes));
        Conv1 = this.Register("conv1", new SnConv2d(inChannels, outChannels, 3, padding: 1));
        Norm2 = this.Register("norm2", new ConditionalBatchNorm(outChannels, classes));
        Conv2 = this.Register("conv2", new SnConv2d(outChannels, outChannels, 3, padding: 1));
        Shortcut = this.Register("shortcut", new SnConv2d(inChannels, outChannels, 1));
    }

    public ConditionalBatchNorm Norm1 { get; }
    public SnConv2d Conv1 { get; }
    public ConditionalBatchNorm Norm2 { get; }
    public SnConv2d Conv2 { get; }
    public SnConv2d Shortcut { get; }

    public override Tensor forward(Tensor x, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var h = F.relu(Norm1.forward(x, labels));
        h = F.interpolate(h, scale_factor: [2, 2], mode: InterpolationMode.Nearest);
        h = Conv1.forward(h);
        h = Conv2.forward(F.relu(Norm2.forward(h, labels)));
        var skip = Shortcut.forward(F.interpolate(x, scale_factor: [2, 2], mode: InterpolationMode.Nearest));
        return (h + skip).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The generator p(x|z, y) of Fig. 4: SN FC (z → 4w·⌈H/4⌉·⌈W/4⌉) – two generator blocks (4w → 2w → w, each ×2 up, CBN in both of
/// their layers) – CBN – ReLU – SN conv 3×3 (w → C) – sigmoid, cropped to H × W. One class-conditional batch norm in every layer
/// (Sec. 4.1). Sigmoid keeps x′ in [0, 1] like the images (StudioGAN's tanh on [−1, 1] is the same map rescaled).
/// </summary>
internal sealed class ContraNetGenerator : Module<Tensor, Tensor, Tensor>
{
    private readonly ContraNetArchitecture a;

    public ContraNetGenerator(ContraNetArchitecture a) : base(nameof(ContraNetGenerator))
    {
        this.a = a;
        int w = a.GeneratorWidth;
        var (h, wd) = a.GeneratorBase;
        Input = this.Register("input", new SnLinear(a.LatentSize, 4L * w * h * wd));
        Block1 = this.Register("block1", new GeneratorBlock(4 * w, 2 * w, a.ClassCount));
        Block2 = this.Register("block2", new GeneratorBlock(2 * w, w, a.ClassCount));
        Norm = this.Register("norm", new ConditionalBatchNorm(w, a.ClassCount));
        Output = this.Register("output", new SnConv2d(w, a.Image.Channels, 3, padding: 1));
        TensorCensus.Record(this);
    }

    public SnLinear Input { get; }
    public GeneratorBlock Block1 { get; }
    public GeneratorBlock Block2 { get; }
    public ConditionalBatchNorm Norm { get; }
    public SnConv2d Output { get; }

    public override Tensor forward(Tensor z, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var (h0, w0) = a.GeneratorBase;
        var h = Input.forward(z).reshape(z.size(0), 4L * a.GeneratorWidth, h0, w0);
        h = Block1.forward(h, labels);
        h = Block2.forward(h, labels);
        h = Output.forward(F.relu(Norm.forward(h, labels))).sigmoid();
        if (h.size(2) != a.Image.Height || h.size(3) != a.Image.Width)
            h = h.narrow(2, 0, a.Image.Height).narrow(3, 0, a.Image.Width);
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>A discriminator residual block (StudioGAN's DiscBlock): [ReLU] – SN conv 3×3 – ReLU – SN conv 3×3 – [avg-pool 2], plus SN conv 1×1 [– avg-pool] of the input.</summary>
internal sealed class DiscriminatorBlock : Module<Tensor, Tensor>
{
    private readonly bool preActivation, downsample;

    public DiscriminatorBlock(long inChannels, long outChannels, bool preActivation, bool downsample) : base(nameof(DiscriminatorBlock))
    {
        (this.preActivation, this.downsample) = (preActivation, downsample);
        Conv1 = this.Register("conv1", new SnConv2d(inChannels, outChannels, 3, padding: 1));
        Conv2 = this.Register("conv2", new SnConv2d(outChannels, outChannels, 3, padding: 1));
        Shortcut = this.Register("shortcut", new SnConv2d(inChannels, outChannels, 1));
    }

    public SnConv2d Conv1 { get; }
    public SnConv2d Conv2 { get; }
    public SnConv2d Shortcut { get; }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = preActivation ? F.relu(x) : x;
        h = Conv2.forward(F.relu(Conv1.forward(h)));
        var skip = x;
        if (downsample)
        {
            h = F.avg_pool2d(h, 2);
            skip = preActivation ? F.avg_pool2d(Shortcut.forward(skip), 2) : Shortcut.forward(F.avg_pool2d(skip, 2));
        }
        else skip = Shortcut.forward(skip);
        return (h + skip).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The projection discriminator [D_φ1, D_φ2] of Fig. 4 (Miyato &amp; Koyama, the paper's Ref. [54]): D_φ1 = three SN residual blocks
/// (C → w ↓, w → 2w ↓, 2w → 2w) – ReLU – sum over positions, giving φ(x) [N, 2w]; D(x, y) = ψ(φ(x)) + ⟨e(y), φ(x)⟩ with ψ an SN
/// linear layer (the unconditional branch) and e an SN class embedding (the projection) — the inner product and the sum of Fig. 4.
/// </summary>
internal sealed class ContraNetDiscriminator : Module<Tensor, Tensor, Tensor>
{
    public ContraNetDiscriminator(ContraNetArchitecture a) : base(nameof(ContraNetDiscriminator))
    {
        int w = a.DiscriminatorWidth;
        Block1 = this.Register("block1", new DiscriminatorBlock(a.Image.Channels, w, preActivation: false, downsample: true));
        Block2 = this.Register("block2", new DiscriminatorBlock(w, 2 * w, preActivation: true, downsample: true));
        Block3 = this.Register("block3", new DiscriminatorBlock(2 * w, 2 * w, preActivation: true, downsample: false));
        Linear = this.Register("linear", new SnLinear(2 * w, 1));
        // An SN embedding is an SN linear layer on one-hot labels: its weight is [2w, K], column y is e(y).
        Embedding = this.Register("embedding", new SnLinear(a.ClassCount, 2 * w, hasBias: false));
        classCount = a.ClassCount;
        TensorCensus.Record(this);
    }

    private readonly int classCount;

    public DiscriminatorBlock Block1 { get; }
    public DiscriminatorBlock Block2 { get; }
    public DiscriminatorBlock Block3 { get; }
    public SnLinear Linear { get; }
    public SnLinear Embedding { get; }

    public override Tensor forward(Tensor x, Tensor labels)
    {
        using var scope = torch.NewDisposeScope();
        var h = Block3.forward(Block2.forward(Block1.forward(x)));
        var features = F.relu(h).sum([2, 3]);
        var unconditional = Linear.forward(features).squeeze(1);
        var embedding = Embedding.forward(F.one_hot(labels, classCount).to(features.dtype));
        var projection = (embedding * features).sum([1]);
        return (unconditional + projection).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The deep metric model M of Sec. 4.2 (one network; the triplet's three branches share it): Conv 3×3 (C → w) – BN – ReLU – max-pool 2 –
/// Conv 3×3 (w → 2w) – BN – ReLU – max-pool 2 – Conv 3×3 (2w → 4w) – BN – ReLU – global average pool – FC (4w → 4w) – ReLU –
/// FC (4w → E) – L2 normalisation. The authors' code uses a MobileNetV2 backbone with an MLP head; this small CNN is its CPU-sized
/// stand-in (MobileNetV2's 2.2 M parameters and 17 inverted-residual blocks are far beyond a two-core training budget).
/// Embeddings are unit vectors, as pytorch-metric-learning's triplet loss normalises them, so distances lie in [0, 2].
/// </summary>
internal sealed class ContraNetMetric : Module<Tensor, Tensor>
{
    public ContraNetMetric(ContraNetArchitecture a) : base(nameof(ContraNetMetric))
    {
        int w = a.MetricWidth;
        Features = this.Register("features", torch.nn.Sequential(
            torch.nn.Conv2d(a.Image.Channels, w, 3, padding: 1), torch.nn.BatchNorm2d(w), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(w, 2 * w, 3, padding: 1), torch.nn.BatchNorm2d(2 * w), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(2 * w, 4 * w, 3, padding: 1), torch.nn.BatchNorm2d(4 * w), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
            torch.nn.Linear(4 * w, 4 * w), torch.nn.ReLU(),
            torch.nn.Linear(4 * w, a.EmbeddingSize)));
        TensorCensus.Record(this);
    }

    public Sequential Features { get; }

    public override Tensor forward(Tensor x)
    {
        using var raw = Features.forward(x);
        return F.normalize(raw, p: 2, dim: 1, eps: 1e-12);
    }
}

/// <summary>ContraNet's inference networks (encoder, generator, metric model) and, while fitting, the discriminator.</summary>
internal sealed class ContraNetNetworks : IDisposable
{
    public ContraNetNetworks(ContraNetArchitecture architecture, Device device, bool withDiscriminator)
    {
        Architecture = architecture;
        Encoder = new ContraNetEncoder(architecture);
        Generator = new ContraNetGenerator(architecture);
        Metric = new ContraNetMetric(architecture);
        Discriminator = withDiscriminator ? new ContraNetDiscriminator(architecture) : null;
        Encoder.to(device);
        Generator.to(device);
        Metric.to(device);
        Discriminator?.to(device);
        Device = device;
    }

    public ContraNetArchitecture Architecture { get; }
    public ContraNetEncoder Encoder { get; }
    public ContraNetGenerator Generator { get; }
    public ContraNetMetric Metric { get; }
    public ContraNetDiscriminator? Discriminator { get; private set; }
    public Device Device { get; }

    public void Eval()
    {
        Encoder.eval();
        Generator.eval();
        Metric.eval();
        Discriminator?.eval();
    }

    /// <summary>Frees the discriminator (only training needs it).</summary>
    public void DropDiscriminator()
    {
        Discriminator?.Dispose();
        Discriminator = null;
    }

    /// <summary>x′ = G(μ(x), y): the reconstruction conditioned on <paramref name="labels"/> from the encoder's mean (no sampling at inference).</summary>
    public Tensor Reconstruct(Tensor images, Tensor labels)
    {
        var (mean, logVariance) = Encoder.forward(images);
        using (mean)
        using (logVariance)
            return Generator.forward(mean, labels);
    }

    /// <summary>d(M(x), M(x′)) per image: the Euclidean distance of the unit embeddings, [N].</summary>
    public Tensor MetricDistance(Tensor images, Tensor reconstructions)
    {
        using var scope = torch.NewDisposeScope();
        var both = Metric.forward(torch.cat([images, reconstructions], 0));
        long n = images.size(0);
        var distance = (both.narrow(0, 0, n) - both.narrow(0, n, n)).square().sum([1]).clamp_min(1e-12).sqrt();
        return distance.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Encoder.Dispose();
        Generator.Dispose();
        Metric.Dispose();
        Discriminator?.Dispose();
    }
}

/// <summary>The losses of Alg. 1 and Eq. 6 on tensors.</summary>
internal static class ContraNetLosses
{
    /// <summary>Eq. 5 in the hinge form the authors' code trains with: mean(relu(1 − D(x, y))) + mean(relu(1 + D(G(E(x), y), y))).</summary>
    internal static Tensor DiscriminatorHinge(Tensor real, Tensor fake)
    {
        using var scope = torch.NewDisposeScope();
        return (F.relu(1 - real).mean() + F.relu(1 + fake).mean()).MoveToOuterDisposeScope();
    }

    /// <summary>The adversarial term of Eq. 4 / Alg. 1 line 4 in hinge form: −mean(D(G(E(x), y), y)).</summary>
    internal static Tensor GeneratorHinge(Tensor fake) => -fake.mean();

    /// <summary>
    /// The KL term of Eq. 3 / Alg. 1 line 5, Σ_j σ_j² + μ_j² − 1 − log σ_j² halved (the KL divergence of N(μ, σ²) from N(0, I)), averaged
    /// over the batch and the latent dimensions as the authors' code does.
    /// </summary>
    internal static Tensor Kl(Tensor mean, Tensor logVariance)
    {
        using var scope = torch.NewDisposeScope();
        return (0.5 * (logVariance.exp() + mean.square() - 1 - logVariance).mean()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Dist(G(E(x), y), x) of Alg. 1 — "L2 and SSIM": l2Weight·mean((x′ − x)²) + ssimWeight·(−log SSIM(x′, x)) + l1Weight·mean|x′ − x|,
    /// SSIM averaged over the batch and floored at 1e-6 before the log, as the authors' code takes −log of the batch SSIM.
    /// </summary>
    internal static Tensor Distance(Tensor reconstructions, Tensor images, double l2Weight, double ssimWeight, double l1Weight, SsimWindow window)
    {
        using var scope = torch.NewDisposeScope();
        var difference = reconstructions - images;
        var loss = l2Weight * difference.square().mean();
        if (ssimWeight != 0) loss = loss + ssimWeight * -Ssim.Compute(reconstructions, images, window).mean().clamp_min(1e-6).log();
        if (l1Weight != 0) loss = loss + l1Weight * difference.abs().mean();
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Eq. 6, the triplet margin loss max(d(a, p) − d(a, n) + margin, 0), over the triplets a mining rule keeps; returns the mean loss of
    /// the kept triplets (0 when none is kept) and how many were kept. <paramref name="anchor"/> and <paramref name="positive"/> are
    /// [B, E]; <paramref name="negatives"/> is [B, Q, E], Q negatives per anchor. Every (anchor, its positive, one of its negatives)
    /// is a valid triplet ("all possible triplet combinations ... according to the labels", Sec. 4.2).
    /// </summary>
    internal static (Tensor Loss, long Kept) Triplet(Tensor anchor, Tensor positive, Tensor negatives, double margin, ContraNetTripletMining mining)
    {
        using var scope = torch.NewDisposeScope();
        var dPositive = (anchor - positive).square().sum([1]).clamp_min(1e-12).sqrt().unsqueeze(1);            // [B, 1]
        var dNegative = (anchor.unsqueeze(1) - negatives).square().sum([2]).clamp_min(1e-12).sqrt();          // [B, Q]
        var losses = F.relu(dPositive - dNegative + margin);
        Tensor keep;
        using (torch.no_grad())
        {
            keep = mining switch
            {
                // Semi-hard (Schroff et al., FaceNet, 2015): the negative is farther than the positive but within the margin.
                ContraNetTripletMining.SemiHard => dNegative.gt(dPositive).logical_and(dNegative.lt(dPositive + margin)),
                ContraNetTripletMining.Hard => dNegative.le(dPositive),
                _ => losses.gt(0),
            };
            // A batch without a triplet of the mined kind falls back to every triplet that still has a loss.
            if (keep.sum().item<long>() == 0) keep = losses.gt(0);
        }
        long kept = keep.sum().item<long>();
        var loss = kept == 0 ? losses.sum() * 0 : (losses * keep.to(losses.dtype)).sum() / kept;
        return (loss.MoveToOuterDisposeScope(), kept);
    }

    /// <summary>
    /// DiffAugment (Zhao et al., NeurIPS 2020) with the authors' policy "color,translation,cutout", applied to every image the
    /// discriminator sees: brightness ± 0.5, saturation × [0, 2] (colour images), contrast × [0.5, 1.5], a shift of up to 1/8 of each
    /// side (zero fill) and a cut-out square of half each side at a random place; every draw per image, from libtorch's generator.
    /// </summary>
    internal static Tensor DiffAugment(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        long n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        var device = x.device;
        x = x + (torch.rand(n, 1, 1, 1, device: device) - 0.5);
        if (c > 1)
        {
            var channelMean = x.mean([1], keepdim: true);
            x = (x - channelMean) * (torch.rand(n, 1, 1, 1, device: device) * 2) + channelMean;
        }
        var imageMean = x.mean([1, 2, 3], keepdim: true);
        x = (x - imageMean) * (torch.rand(n, 1, 1, 1, device: device) + 0.5) + imageMean;

        long sh = Math.Max(1, (h + 4) / 8), sw = Math.Max(1, (w + 4) / 8);
        var ty = torch.randint(-sh, sh + 1, [n, 1, 1], device: device);
        var tx = torch.randint(-sw, sw + 1, [n, 1, 1], device: device);
        var rows = torch.arange(h, device: device).reshape(1, h, 1);
        var cols = torch.arange(w, device: device).reshape(1, 1, w);
        var sourceRows = (rows + ty + 1).clamp(0, h + 1).expand(n, h, w);
        var sourceCols = (cols + tx + 1).clamp(0, w + 1).expand(n, h, w);
        var batch = torch.arange(n, device: device).reshape(n, 1, 1).expand(n, h, w);
        var padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1);                                  // [N, H+2, W+2, C], zero border
        x = padded.index([TensorIndex.Tensor(batch), TensorIndex.Tensor(sourceRows), TensorIndex.Tensor(sourceCols)]).permute(0, 3, 1, 2);

        long ch = (h + 1) / 2, cw = (w + 1) / 2;
        var cy = torch.randint(0, h + (1 - ch % 2), [n, 1, 1], device: device);
        var cx = torch.randint(0, w + (1 - cw % 2), [n, 1, 1], device: device);
        var inside = (rows - cy + ch / 2).ge(0).logical_and((rows - cy + ch / 2).lt(ch))
            .logical_and((cols - cx + cw / 2).ge(0)).logical_and((cols - cx + cw / 2).lt(cw));
        x = x * inside.logical_not().unsqueeze(1).to(x.dtype);
        return x.contiguous().MoveToOuterDisposeScope();
    }
}
