using ImageShape = MLDefense.Data.ImageShape;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

/// <summary>
/// The sizes of CMAG's three reconstructors, fixed by the image, the classifier's feature map and class count, and the width options.
/// </summary>
/// <param name="Image">The image shape [C, H, W].</param>
/// <param name="FeatureChannels">C′ of the feature map.</param>
/// <param name="FeatureHeight">H′ of the feature map.</param>
/// <param name="FeatureWidth">W′ of the feature map.</param>
/// <param name="ClassCount">K, the length of the probabilities.</param>
/// <param name="FmrChannels">FMR's width.</param>
/// <param name="LrHiddenUnits">LR's hidden width.</param>
/// <param name="GrChannels">GR's width.</param>
internal sealed record CmagArchitecture(ImageShape Image, int FeatureChannels, int FeatureHeight, int FeatureWidth, int ClassCount,
    int FmrChannels, int LrHiddenUnits, int GrChannels)
{
    internal static CmagArchitecture From(CmagOptions o, ImageShape image, IReadOnlyList<int> featureMap, int classCount) =>
        new(image, featureMap[0], featureMap[1], featureMap[2], classCount, o.FmrChannels, o.LrHiddenUnits, o.GrChannels);
}

/// <summary>
/// FMR, the feature-map reconstructor (Sec. 3.1): f_fm(x) [N, C′, H′, W′] → an image [N, C, H, W] in [0, 1]. The paper gives no
/// layers; this one is Conv 3×3 (C′ → w, pad 1) – ReLU – bilinear resize to H×W – Conv 3×3 (w → w) – ReLU – Conv 3×3 (w → C) –
/// sigmoid, w = <see cref="CmagOptions.FmrChannels"/>. The resize (rather than transposed convolutions) lets one network take any
/// feature-map size, from C1's 11×11 to Defense-GAN B's 1×1.
/// </summary>
internal sealed class FeatureMapReconstructor : Module<Tensor, Tensor>
{
    private readonly long height, width;

    public FeatureMapReconstructor(CmagArchitecture a) : base(nameof(FeatureMapReconstructor))
    {
        (height, width) = (a.Image.Height, a.Image.Width);
        Encode = this.Register("encode", torch.nn.Sequential(torch.nn.Conv2d(a.FeatureChannels, a.FmrChannels, 3, padding: 1), torch.nn.ReLU()));
        Decode = this.Register("decode", torch.nn.Sequential(
            torch.nn.Conv2d(a.FmrChannels, a.FmrChannels, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Conv2d(a.FmrChannels, a.Image.Channels, 3, padding: 1), torch.nn.Sigmoid()));
        TensorCensus.Record(this);
    }

    public Sequential Encode { get; }
    public Sequential Decode { get; }

    public override Tensor forward(Tensor featureMap)
    {
        using var encoded = Encode.forward(featureMap);
        using var resized = F.interpolate(encoded, size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        return Decode.forward(resized);
    }
}

/// <summary>
/// LR, the logit reconstructor (Sec. 3.2): the temperature softmax [N, K] (Eq. 5) → an image [N, C, H, W] in [0, 1]. The paper
/// gives no layers; this one is FC (K → h) – ReLU – FC (h → h) – ReLU – FC (h → C·H·W) – sigmoid, reshaped, h =
/// <see cref="CmagOptions.LrHiddenUnits"/>. With T = 1/1000 its input is nearly one-hot, so it learns one prototype image per class.
/// </summary>
internal sealed class LogitReconstructor : Module<Tensor, Tensor>
{
    private readonly long[] imageShape;

    public LogitReconstructor(CmagArchitecture a) : base(nameof(LogitReconstructor))
    {
        imageShape = [a.Image.Channels, a.Image.Height, a.Image.Width];
        Layers = this.Register("layers", torch.nn.Sequential(
            torch.nn.Linear(a.ClassCount, a.LrHiddenUnits), torch.nn.ReLU(),
            torch.nn.Linear(a.LrHiddenUnits, a.LrHiddenUnits), torch.nn.ReLU(),
            torch.nn.Linear(a.LrHiddenUnits, a.Image.Size), torch.nn.Sigmoid()));
        TensorCensus.Record(this);
    }

    public Sequential Layers { get; }

    public override Tensor forward(Tensor probabilities)
    {
        using var flat = Layers.forward(probabilities);
        return flat.reshape([flat.size(0), .. imageShape]);
    }
}

/// <summary>
/// GR, the global (second-order) reconstructor (Sec. 3.3): h(x) = FMR(·) ⊗ LR(·) [N, C, H, W] → x′ [N, C, H, W] in [0, 1]. The paper
/// gives no layers; this one is an hourglass: Conv 3×3 (C → w) – ReLU – Conv 3×3 stride 2 (w → 2w) – ReLU – bilinear resize to H×W –
/// Conv 3×3 (2w → w) – ReLU – Conv 3×3 (w → C) – sigmoid, w = <see cref="CmagOptions.GrChannels"/>.
/// </summary>
internal sealed class GlobalReconstructor : Module<Tensor, Tensor>
{
    private readonly long height, width;

    public GlobalReconstructor(CmagArchitecture a) : base(nameof(GlobalReconstructor))
    {
        (height, width) = (a.Image.Height, a.Image.Width);
        int w = a.GrChannels;
        Encode = this.Register("encode", torch.nn.Sequential(
            torch.nn.Conv2d(a.Image.Channels, w, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Conv2d(w, 2 * w, 3, stride: 2, padding: 1), torch.nn.ReLU()));
        Decode = this.Register("decode", torch.nn.Sequential(
            torch.nn.Conv2d(2 * w, w, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Conv2d(w, a.Image.Channels, 3, padding: 1), torch.nn.Sigmoid()));
        TensorCensus.Record(this);
    }

    public Sequential Encode { get; }
    public Sequential Decode { get; }

    public override Tensor forward(Tensor h)
    {
        using var encoded = Encode.forward(h);
        using var resized = F.interpolate(encoded, size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        return Decode.forward(resized);
    }
}

/// <summary>
/// CMAG's three networks and the cascade of Fig. 1 / Alg. 2 on tensors: the temperature softmax, h(x), x′ = GR(h(x)), and the
/// reconstruction errors. Differentiable end to end (for defense-aware attacks) unless called under no_grad.
/// </summary>
internal sealed class CmagNetworks : IDisposable
{
    public CmagNetworks(CmagArchitecture architecture, Device device)
    {
        Architecture = architecture;
        Fmr = new FeatureMapReconstructor(architecture);
        Lr = new LogitReconstructor(architecture);
        Gr = new GlobalReconstructor(architecture);
        Fmr.to(device);
        Lr.to(device);
        Gr.to(device);
        Device = device;
    }

    public CmagArchitecture Architecture { get; }
    public FeatureMapReconstructor Fmr { get; }
    public LogitReconstructor Lr { get; }
    public GlobalReconstructor Gr { get; }
    public Device Device { get; }

    public void Eval()
    {
        Fmr.eval();
        Lr.eval();
        Gr.eval();
    }

    /// <summary>Eq. 5 from probabilities: softmax(log p / T) = softmax(z / T). Probabilities are clamped at 1e-30 so that log stays finite.</summary>
    public static Tensor TemperatureSoftmax(Tensor probabilities, double temperature)
    {
        using var logs = probabilities.clamp_min(1e-30).log();
        using var scaled = logs / temperature;
        return scaled.softmax(1);
    }

    /// <summary>h(x) = FMR(f_fm(x)) ⊗ LR(softmax(f(x)/T)) (Alg. 1 line 3).</summary>
    public Tensor Attention(Tensor featureMaps, Tensor temperatureProbabilities)
    {
        using var fromFeatures = Fmr.forward(featureMaps);
        using var fromLogits = Lr.forward(temperatureProbabilities);
        return fromFeatures * fromLogits;
    }

    /// <summary>x′ = GR(h(x)) from the classifier's outputs (Alg. 2).</summary>
    public Tensor Reconstruct(Tensor featureMaps, Tensor probabilities, double temperature)
    {
        using var softened = TemperatureSoftmax(probabilities, temperature);
        using var h = Attention(featureMaps, softened);
        return Gr.forward(h);
    }

    /// <summary>‖x − x′‖₂ per image (Eq. 3 with p = 2): [N].</summary>
    public static Tensor L2(Tensor images, Tensor reconstructions)
    {
        using var difference = (images - reconstructions).flatten(1);
        return torch.linalg.vector_norm(difference, 2, [1]);
    }

    /// <summary>
    /// Eq. 12–14 with 1 − SSIM as the SSIM term: μ·mean((R − x)²) + (1 − μ)·(1 − SSIM(R, x)), averaged over the batch. The squared
    /// norm is averaged over the image's values (see <see cref="CmagEstimator"/>, "Departures").
    /// </summary>
    public static Tensor Loss(Tensor reconstructions, Tensor images, double mu, SsimWindow window)
    {
        using var scope = torch.NewDisposeScope();
        var squared = (reconstructions - images).square().flatten(1).mean([1]);
        var ssim = Ssim.Compute(reconstructions, images, window);
        var loss = (mu * squared + (1 - mu) * (1 - ssim)).mean();
        return loss.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Fmr.Dispose();
        Lr.Dispose();
        Gr.Dispose();
    }
}
