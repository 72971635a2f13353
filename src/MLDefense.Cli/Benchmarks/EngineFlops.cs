using MLDefense.Data;
using Microsoft.ML;
using MLDefense.Defenses;

namespace MLDefense.Benchmarks;

/// <summary>
/// The forward FLOPs per image of a network's matmul-class layers (convolutions, transposed convolutions, fully connected
/// layers), in the order the forward pass runs them, and what a pass through them costs.
/// </summary>
/// <remarks>
/// Counted analytically, 2 FLOPs per multiply–accumulate (the convention of GFLOP/s figures for matrix multiplies). A
/// backward pass costs each layer its forward FLOPs once for the gradient with respect to its weights and once for the
/// gradient with respect to its input; libtorch skips the input gradient of a layer whose input needs none (the first
/// layer of a network fed with data) and, under <c>torch.autograd.grad</c> with respect to the input only, every weight
/// gradient. Batch and layer normalisation, activations, pooling, losses, bias terms and the optimiser's update are not
/// counted: they are a few FLOPs per value, not per multiply–accumulate.
/// </remarks>
/// <param name="Layers">The forward FLOPs per image of each matmul-class layer, first layer first.</param>
public sealed record NetworkFlops(IReadOnlyList<double> Layers)
{
    /// <summary>One forward pass.</summary>
    public double Forward => Layers.Sum();

    /// <summary>
    /// A forward pass and a backward pass with every weight gradient: 3 × <see cref="Forward"/>, less the first layer's
    /// input gradient when <paramref name="inputGradient"/> is false (the network's input needs no gradient).
    /// </summary>
    public double Training(bool inputGradient) => 3 * Forward - (inputGradient || Layers.Count == 0 ? 0 : Layers[0]);

    /// <summary>The backward pass alone with every weight gradient: <see cref="Training"/> less the forward pass.</summary>
    public double Backward(bool inputGradient) => Training(inputGradient) - Forward;

    /// <summary>A forward pass and a backward pass to the input alone (no weight gradient): 2 × <see cref="Forward"/>.</summary>
    public double InputGradient => 2 * Forward;
}

/// <summary>
/// Analytical FLOP counts of the engine benchmark's workloads (see <see cref="NetworkFlops"/> for what is counted): the
/// layer formulas, the networks of each case, and per case the FLOPs per image of one step.
/// </summary>
public static class EngineFlops
{
    /// <summary>A convolution: 2 · C_in · C_out · k² · H_out · W_out (groups of 1).</summary>
    public static double Conv2d(int inChannels, int outChannels, int kernel, int outHeight, int outWidth) =>
        2.0 * inChannels * outChannels * kernel * kernel * outHeight * outWidth;

    /// <summary>A transposed convolution: every input value meets C_out · k² weights, so 2 · C_in · C_out · k² · H_in · W_in.</summary>
    public static double ConvTranspose2d(int inChannels, int outChannels, int kernel, int inHeight, int inWidth) =>
        2.0 * inChannels * outChannels * kernel * kernel * inHeight * inWidth;

    /// <summary>A fully connected layer: 2 · in · out.</summary>
    public static double Linear(long inFeatures, long outFeatures) => 2.0 * inFeatures * outFeatures;

    /// <summary>An n×n by n×n matrix product: 2n³.</summary>
    public static double Matmul(int n) => 2.0 * n * n * n;

    /// <summary>MIAED's MNIST classifier C1 (<see cref="Classifiers.ClassifierArchitecture.MnistC1"/>) on 28×28×1 images, 10 classes.</summary>
    public static NetworkFlops MnistC1 { get; } = new([Conv2d(1, 32, 3, 26, 26), Conv2d(32, 64, 3, 11, 11), Linear(64 * 5 * 5, 200), Linear(200, 10)]);

    /// <summary>Defense-GAN's classifier A (<see cref="Classifiers.ClassifierArchitecture.DefenseGanA"/>) on 28×28×1 images, 10 classes.</summary>
    public static NetworkFlops ClassifierA { get; } = new([Conv2d(1, 64, 5, 28, 28), Conv2d(64, 64, 5, 12, 12), Linear(64 * 12 * 12, 128), Linear(128, 10)]);

    /// <summary>AE-GAN's encoder F, generator G and discriminator D (Table 6, <see cref="AeGanEncoder"/> and its siblings).</summary>
    /// <param name="shape">The image shape (see <see cref="AeGanGeometry"/>).</param>
    /// <param name="baseChannels">The width w.</param>
    /// <param name="latentDimension">The latent size k.</param>
    public static (NetworkFlops Encoder, NetworkFlops Generator, NetworkFlops Discriminator) AeGan(ImageShape shape, int baseChannels, int latentDimension)
    {
        ArgumentNullException.ThrowIfNull(shape);
        int w = baseChannels, c = shape.Channels;
        var h = AeGanGeometry.Levels(shape.Height);
        var v = AeGanGeometry.Levels(shape.Width);
        long flat = AeGanGeometry.FlatFeatures(shape, baseChannels);
        double[] trunk = [Conv2d(c, w, 5, h[1], v[1]), Conv2d(w, 2 * w, 5, h[2], v[2]), Conv2d(2 * w, 4 * w, 5, h[3], v[3])];
        var generator = new NetworkFlops([Linear(latentDimension, flat), ConvTranspose2d(4 * w, 2 * w, 5, h[3], v[3]),
                                          ConvTranspose2d(2 * w, w, 5, h[2], v[2]), ConvTranspose2d(w, c, 5, h[1], v[1])]);
        return (new([.. trunk, Linear(flat, latentDimension)]), generator, new([.. trunk, Linear(flat, 1)]));
    }

    /// <summary>
    /// One minibatch of AE-GAN's training (<c>aegan_train_step</c>), per image: the D step runs D forward and backward on x
    /// and on G(z) detached (no input gradient), then the F and G step runs D on G(z) with its input gradient, back into G
    /// (whose input z needs none), and G(F(x + η)) with its input gradient, back into F (whose input needs none).
    /// </summary>
    public static double AeGanTrainStep(ImageShape shape, int baseChannels, int latentDimension)
    {
        var (f, g, d) = AeGan(shape, baseChannels, latentDimension);
        return 2 * d.Training(inputGradient: false) + d.Training(inputGradient: true)
             + g.Training(inputGradient: false) + g.Training(inputGradient: true) + f.Training(inputGradient: false);
    }

    /// <summary>
    /// AE-GAN+sr's purification with the search on every image (<c>aegan_purify</c>), per image: F(x) and G(F(x)); the
    /// search's first distance and gradient, then <paramref name="steps"/> − 1 steps with a distance and gradient (a G
    /// forward and a backward to z) and a last one with the distance alone; then G(z_L).
    /// </summary>
    public static double AeGanPurify(ImageShape shape, int baseChannels, int latentDimension, int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var (f, g, _) = AeGan(shape, baseChannels, latentDimension);
        return f.Forward + g.Forward + steps * g.InputGradient + g.Forward + g.Forward;
    }

    /// <summary>
    /// MIAED's networks at <paramref name="options"/>' sizes (every ablation switch on; Table 3 and 4): encoder E (four
    /// same-padded 3×3 convolutions B, B, 2B, 2B around two 2×2 max poolings, then the FC to the latent), decoder G (the FC
    /// to the map, then 3×3 convolutions 2B, 2B at H/2 × W/2 and B, B, C at H × W after each 2× up-sampling), global and
    /// local MI discriminators, prior critic (<see cref="MiaedAutoencoder"/>).
    /// </summary>
    public static (NetworkFlops Encoder, NetworkFlops Decoder, NetworkFlops GlobalMi, NetworkFlops LocalMi, NetworkFlops Critic) Miaed(MiaedOptions options, ImageShape shape)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(shape);
        var a = MiaedEstimator.ResolveArchitecture(options, shape);
        int b = a.BaseChannels, c = a.FeatureChannels, h = shape.Height, w = shape.Width;
        var encoder = new List<double>
        {
            Conv2d(shape.Channels, b, 3, h, w), Conv2d(b, b, 3, h, w),
            Conv2d(b, c, 3, h / 2, w / 2), Conv2d(c, c, 3, h / 2, w / 2),
            Linear(a.FeatureSize, a.LatentDimension),
        };
        var decoder = new List<double>
        {
            Linear(a.LatentDimension, a.FeatureSize),
            Conv2d(c, c, 3, h / 2, w / 2), Conv2d(c, c, 3, h / 2, w / 2),
            Conv2d(c, b, 3, h, w), Conv2d(b, b, 3, h, w), Conv2d(b, shape.Channels, 3, h, w),
        };
        int hidden = a.DiscriminatorHiddenUnits, locations = a.FeatureHeight * a.FeatureWidth;
        NetworkFlops Mlp(long inputs) => new([Linear(inputs, hidden), Linear(hidden, hidden), Linear(hidden, 1)]);
        var local = new NetworkFlops([Linear(a.FeatureChannels + a.LatentDimension, hidden) * locations, Linear(hidden, hidden) * locations,
                                      Linear(hidden, 1) * locations]);
        return (new(encoder), new(decoder), Mlp(a.LatentDimension + a.FeatureSize), local, Mlp(a.LatentDimension));
    }

    /// <summary>
    /// One MIAED training step (<c>miaed_train_step</c>), per image. Eq. 15's step: E forward and backward (its input needs
    /// no gradient); G twice (on y and y + ξ), the global and the local MI discriminator twice each (positive and negative
    /// pairs) and the critic once on y, all with their input gradients. The critic's step: the gradient penalty (a forward,
    /// a backward to the input, and the double backward through both, counted as twice those two) and the critic forward
    /// and backward on the latents and the prior samples (no input gradient). The critic's passes are under 1% of the total.
    /// </summary>
    public static double MiaedTrainStep(MiaedOptions options, ImageShape shape)
    {
        var (e, g, global, local, critic) = Miaed(options, shape);
        double main = e.Training(inputGradient: false) + 2 * g.Training(inputGradient: true) + 2 * global.Training(inputGradient: true)
                    + 2 * local.Training(inputGradient: true) + critic.Training(inputGradient: true);
        double penalty = 3 * critic.InputGradient;
        return main + penalty + 2 * critic.Training(inputGradient: false);
    }

    /// <summary>The FLOPs per image of one step of a case of <see cref="EngineBenchmark"/>, at the sizes it runs.</summary>
    public static double PerImage(EngineBenchmarkCase benchmarkCase) => benchmarkCase switch
    {
        EngineBenchmarkCase.TrainStep => MnistC1.Training(inputGradient: false),
        EngineBenchmarkCase.InputGradient => MnistC1.InputGradient,
        EngineBenchmarkCase.ClassifierATrainStep => ClassifierA.Training(inputGradient: false),
        EngineBenchmarkCase.AeGanTrainStep => AeGanTrainStep(EngineBenchmark.AeGanImage, EngineBenchmark.AeGanPaper.BaseChannels, EngineBenchmark.AeGanPaper.LatentDimension),
        EngineBenchmarkCase.AeGanPurify => AeGanPurify(EngineBenchmark.AeGanImage, EngineBenchmark.AeGanPaper.BaseChannels, EngineBenchmark.AeGanPaper.LatentDimension,
                                                       EngineBenchmark.AeGanPaper.SearchSteps),
        EngineBenchmarkCase.MiaedTrainStep => MiaedTrainStep(new MiaedOptions(), new ImageShape(1, 28, 28)),
        _ => throw new ArgumentOutOfRangeException(nameof(benchmarkCase)),
    };
}
