using MLDefense.Data;

namespace MLDefense.Defenses;

/// <summary>
/// The geometry shared by AE-GAN's three networks (Table 6): three 5×5 stride-2 convolutions with padding 2 take an
/// H×W image to ⌈H/2⌉, ⌈H/4⌉, ⌈H/8⌉ (28 → 14 → 7 → 4), and the decoder's transposed convolutions retrace those sizes
/// exactly, choosing each output padding (0 or 1) by the parity of the size it must reach.
/// </summary>
/// <remarks>
/// Supported shapes: 1–4 channels; H and W at least 8; and, because a transposed convolution has one output padding for
/// both axes, H and W whose sizes at each level have the same parity — every square image (28×28, 32×32, 64×64), and
/// any pair such as 32×64. Other shapes are rejected with a message that names them (<see cref="Check"/>).
/// </remarks>
public static class AeGanGeometry
{
    /// <summary>The smallest height and width supported.</summary>
    public const int MinimumSide = 8;

    /// <summary>Returns null when the networks support images of <paramref name="shape"/>, else why not.</summary>
    public static string? Check(ImageShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Channels is < 1 or > 4) return $"AE-GAN supports 1 to 4 channels, found {shape.Channels}";
        if (shape.Height < MinimumSide || shape.Width < MinimumSide)
            return $"AE-GAN needs images of at least {MinimumSide}x{MinimumSide}, found {shape}";
        var heights = Levels(shape.Height);
        var widths = Levels(shape.Width);
        for (int level = 0; level < 3; level++)
            if (heights[level] % 2 != widths[level] % 2)
                return $"AE-GAN's decoder cannot retrace {shape}: at each halving (sizes {string.Join("→", heights)} by {string.Join("→", widths)}) " +
                       "height and width must have the same parity (square images always do)";
        return null;
    }

    /// <summary>The side at the input and after each of the three stride-2 convolutions: [s, ⌈s/2⌉, ⌈s/4⌉, ⌈s/8⌉].</summary>
    internal static int[] Levels(int side)
    {
        var sizes = new int[4];
        sizes[0] = side;
        for (int i = 1; i < 4; i++) sizes[i] = (sizes[i - 1] + 1) / 2;
        return sizes;
    }

    /// <summary>The output padding a 5×5, stride-2, padding-2 transposed convolution needs to go from ⌈s/2⌉ to s: (2·⌈s/2⌉ − 1) + p = s.</summary>
    internal static long OutputPadding(int target) => target % 2 == 0 ? 1 : 0;

    internal static long FlatFeatures(ImageShape shape, int baseChannels) =>
        4L * baseChannels * Levels(shape.Height)[3] * Levels(shape.Width)[3];
}

/// <summary>
/// The convolutional trunk shared by AE-GAN's encoder and discriminator (Table 6): three 5×5 stride-2 convolutions of
/// w, 2w, 4w channels, each followed by LeakyReLU(0.2) — the second and third after batch normalisation, the first without
/// (as Table 6 and DCGAN, whose discriminator it follows) — then flattened into a fully connected layer.
/// </summary>
public abstract class AeGanConvolutionalNetwork : Module<Tensor, Tensor>
{
    private readonly Sequential trunk;
    private readonly Linear head;

    /// <summary>Builds the trunk for images of <paramref name="shape"/> and a head with <paramref name="outputs"/> units.</summary>
    protected AeGanConvolutionalNetwork(ImageShape shape, int baseChannels, int outputs) : base(nameof(AeGanConvolutionalNetwork))
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (AeGanGeometry.Check(shape) is { } problem) throw new ArgumentException(problem + ".", nameof(shape));
        ArgumentOutOfRangeException.ThrowIfLessThan(baseChannels, 1);
        int w = baseChannels;
        trunk = this.Register("trunk", torch.nn.Sequential(
            torch.nn.Conv2d(shape.Channels, w, 5, stride: 2, padding: 2), torch.nn.LeakyReLU(0.2),
            torch.nn.Conv2d(w, 2 * w, 5, stride: 2, padding: 2), torch.nn.BatchNorm2d(2 * w), torch.nn.LeakyReLU(0.2),
            torch.nn.Conv2d(2 * w, 4 * w, 5, stride: 2, padding: 2), torch.nn.BatchNorm2d(4 * w), torch.nn.LeakyReLU(0.2),
            torch.nn.Flatten()));
        head = this.Register("head", torch.nn.Linear(AeGanGeometry.FlatFeatures(shape, baseChannels), outputs));
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    /// <summary>The pre-activation output of the fully connected head, [N, outputs].</summary>
    protected Tensor HeadOutput(Tensor images)
    {
        using var features = trunk.forward(images);
        return head.forward(features);
    }
}

/// <summary>AE-GAN's encoder F (Table 6): the convolutional trunk, then FC to the latent dimension k and tanh, so F(x) ∈ (−1, 1)^k.</summary>
public sealed class AeGanEncoder : AeGanConvolutionalNetwork
{
    /// <summary>Creates the encoder for images of <paramref name="shape"/>.</summary>
    public AeGanEncoder(ImageShape shape, int latentDimension, int baseChannels = 64) : base(shape, baseChannels, latentDimension) { }

    /// <summary>[N, C, H, W] images → [N, k] codes in (−1, 1).</summary>
    public override Tensor forward(Tensor input)
    {
        using var output = HeadOutput(input);
        return output.tanh();
    }
}

/// <summary>AE-GAN's discriminator D (Table 6): the encoder's trunk ending in FC(1) and a sigmoid, the probability that x is real.</summary>
public sealed class AeGanDiscriminator : AeGanConvolutionalNetwork
{
    /// <summary>Creates the discriminator for images of <paramref name="shape"/>.</summary>
    public AeGanDiscriminator(ImageShape shape, int baseChannels = 64) : base(shape, baseChannels, 1) { }

    /// <summary>[N, C, H, W] images → [N, 1] probabilities of being real.</summary>
    public override Tensor forward(Tensor input)
    {
        using var output = HeadOutput(input);
        return output.sigmoid();
    }
}

/// <summary>
/// AE-GAN's decoder, which is also the GAN's generator G (Table 6): FC from the latent code to a 4w × ⌈H/8⌉ × ⌈W/8⌉ map
/// and ReLU, then 5×5 stride-2 transposed convolutions of 2w and w channels (each with batch normalisation and ReLU) and a
/// last one to C channels with a sigmoid, so G(z) ∈ (0, 1)^(C×H×W).
/// </summary>
/// <remarks>
/// No batch normalisation after the FC layer: Table 6 has none, and one there splits G in two. G runs on prior codes for the
/// adversarial term and on the encoder's codes for the reconstruction term, each batch normalised by its own statistics,
/// and at inference (the search included) on statistics re-estimated from encoder codes only — the mode the discriminator
/// never judged. An earlier version had it: in a PyTorch replica of its training step (width 16, 3 epochs on 8,000 MNIST
/// images), that layer's output mean differed by 0.52 standard deviations
/// between the two modes (the transposed convolutions' batch norms by at most 0.04), and D scored the same prior codes
/// 0.144 in one mode and 0.068 in the other.
/// </remarks>
public sealed class AeGanGenerator : Module<Tensor, Tensor>
{
    private readonly Linear project;
    private readonly Sequential upsample;
    private readonly long[] mapShape;

    /// <summary>Creates the generator for images of <paramref name="shape"/>.</summary>
    public AeGanGenerator(ImageShape shape, int latentDimension, int baseChannels = 64) : base(nameof(AeGanGenerator))
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (AeGanGeometry.Check(shape) is { } problem) throw new ArgumentException(problem + ".", nameof(shape));
        ArgumentOutOfRangeException.ThrowIfLessThan(latentDimension, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(baseChannels, 1);
        int w = baseChannels;
        var heights = AeGanGeometry.Levels(shape.Height);
        var widths = AeGanGeometry.Levels(shape.Width);
        mapShape = [-1, 4 * w, heights[3], widths[3]];
        long flat = AeGanGeometry.FlatFeatures(shape, baseChannels);
        project = this.Register("project", torch.nn.Linear(latentDimension, flat));
        // Check guarantees heights[i] and widths[i] share a parity, so one output padding serves both axes.
        upsample = this.Register("upsample", torch.nn.Sequential(
            torch.nn.ConvTranspose2d(4 * w, 2 * w, 5, stride: 2, padding: 2, output_padding: AeGanGeometry.OutputPadding(heights[2])),
            torch.nn.BatchNorm2d(2 * w), torch.nn.ReLU(),
            torch.nn.ConvTranspose2d(2 * w, w, 5, stride: 2, padding: 2, output_padding: AeGanGeometry.OutputPadding(heights[1])),
            torch.nn.BatchNorm2d(w), torch.nn.ReLU(),
            torch.nn.ConvTranspose2d(w, shape.Channels, 5, stride: 2, padding: 2, output_padding: AeGanGeometry.OutputPadding(heights[0])),
            torch.nn.Sigmoid()));
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    /// <summary>[N, k] codes → [N, C, H, W] images in (0, 1).</summary>
    public override Tensor forward(Tensor input)
    {
        using var scope = torch.NewDisposeScope();
        var map = project.forward(input).relu().view(mapShape);
        return upsample.forward(map).MoveToOuterDisposeScope();
    }
}
