using MLDefense.Data;
using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

/// <summary>
/// The loss terms of one MIAED autoencoder step (Gao et al., Sec. 3.1). A term whose ablation switch is off is null:
/// it was not computed and did not enter <see cref="Total"/>.
/// </summary>
/// <param name="Total">Eq. 15: ε·L_rec + δ·L_noise − α·Î_global − β·Î_local + γ·L_prior (minimised).</param>
/// <param name="GlobalMi">Î_JSD of Eq. 9 (latent vs the flattened feature map), or null.</param>
/// <param name="LocalMi">Î_JSD of Eq. 10 (latent vs each feature-map location, averaged), or null.</param>
/// <param name="PriorLoss">The encoder's prior-matching loss −E[D(E(x))] (Eq. 11, generator side), or null.</param>
/// <param name="CriticLoss">The prior critic's loss E[D(E(x))] − E[D(z)] + λ·GP (Eq. 11, critic side), or null.</param>
/// <param name="Reconstruction">Eq. 13: mean squared error between x and G(E(x)).</param>
/// <param name="NoiseReconstruction">Eq. 14: mean squared error between G(E(x)) and G(E(x) + ξ).</param>
public sealed record MiaedLossTerms(double Total, double? GlobalMi, double? LocalMi, double? PriorLoss, double? CriticLoss,
    double Reconstruction, double NoiseReconstruction);

/// <summary>
/// MIAED's MI dual autoencoder (Gao et al., Sec. 3.1) with its training step: encoder E, decoder G, and — as the
/// ablation switches of <see cref="MiaedOptions"/> ask — the global MI discriminator (Eq. 9), the local MI
/// discriminator (Eq. 10) and the prior critic (Eq. 11). <see cref="MiaedEstimator"/> drives it; it is public so
/// that tests and benchmarks can run and inspect single steps.
/// </summary>
/// <remarks>
/// <para>One <see cref="TrainStep"/> on a batch x:</para>
/// <list type="number">
/// <item><description>M = the encoder's pooled feature map after its last convolution (32×7×7 on MNIST, Table 3), y = E(x) the 64-d latent; x̂ = G(y), x̃ = G(y + ξ), ξ ~ N(0, σ²I).</description></item>
/// <item><description>L_rec = mean (x − x̂)² (Eq. 13) and L_noise = mean (x̂ − x̃)² (Eq. 14): the squared norms of the
/// paper averaged over pixels, so the weights do not depend on the image size. Both streams backpropagate into
/// G and E: the second teaches G to map a latent neighbourhood to one image, which is what makes it "dual".</description></item>
/// <item><description>Î_global = Î_JSD(T_g(y, M), T_g(y, M')) with M' the feature map of the next image in the batch
/// (<see cref="MutualInformation.RollBatch"/>); Î_local the same with the 1×1-convolution discriminator on y copied to
/// every location of M, averaged over the H'·W' locations.</description></item>
/// <item><description>L_prior = −E[D_p(y)] with D_p a WGAN critic between the prior N(0, s²I) and the latents.</description></item>
/// <item><description>E, G and the MI discriminators take one Adam step on Eq. 15, ε·L_rec + δ·L_noise − α·Î_global −
/// β·Î_local + γ·L_prior (Eq. 12 is the DIM part −α·Î_global − β·Î_local + γ·L_prior): the MI discriminators maximise the
/// same estimates the encoder maximises, as in Deep InfoMax.</description></item>
/// <item><description>Then the critic takes one Adam step on E[D_p(y)] − E[D_p(z)] + λ·GP (z from the prior, y detached;
/// GP from <see cref="GradientPenalty"/>, a double backward).</description></item>
/// </list>
/// </remarks>
public sealed class MiaedAutoencoder : IDisposable
{
    private readonly MiaedOptions options;
    private readonly MiaedEncoder encoder;
    private readonly MiaedDecoder decoder;
    private readonly MiaedMlpDiscriminator? globalDiscriminator;
    private readonly MiaedLocalDiscriminator? localDiscriminator;
    private readonly MiaedMlpDiscriminator? priorCritic;
    private readonly OptimizerHelper mainOptimizer;
    private readonly OptimizerHelper? criticOptimizer;
    private readonly MiaedArchitecture architecture;
    private bool encoderHandedOver;
    private bool disposed;

    /// <summary>Builds the untrained networks for images of <paramref name="imageShape"/> on <paramref name="device"/>.</summary>
    /// <exception cref="ArgumentException">The image shape does not fit the encoder (H and W must be divisible by 4).</exception>
    public MiaedAutoencoder(MiaedOptions options, ImageShape imageShape, Device device)
    {
        ArgumentNullException.ThrowIfNull(options);
        this.options = options;
        architecture = MiaedEstimator.ResolveArchitecture(options, imageShape);
        Device = device;
        var a = architecture;
        encoder = new MiaedEncoder(a);
        decoder = new MiaedDecoder(a);
        if (options.UseGlobalMi) globalDiscriminator = new MiaedMlpDiscriminator(a.LatentDimension + a.FeatureSize, a.DiscriminatorHiddenUnits);
        if (options.UseLocalMi) localDiscriminator = new MiaedLocalDiscriminator(a.FeatureChannels, a.LatentDimension, a.DiscriminatorHiddenUnits);
        if (options.UsePriorMatching) priorCritic = new MiaedMlpDiscriminator(a.LatentDimension, a.DiscriminatorHiddenUnits);
        foreach (var module in Modules) module.to(device);

        var betas = (options.AdamBeta1, options.AdamBeta2);
        var trained = encoder.parameters().Concat(decoder.parameters())
            .Concat(globalDiscriminator?.parameters() ?? []).Concat(localDiscriminator?.parameters() ?? []).ToList();
        mainOptimizer = torch.optim.Adam(trained, options.LearningRate, betas.Item1, betas.Item2);
        if (priorCritic is not null) criticOptimizer = torch.optim.Adam(priorCritic.parameters(), options.LearningRate, betas.Item1, betas.Item2);
    }

    private IEnumerable<Module> Modules =>
        new Module?[] { encoder, decoder, globalDiscriminator, localDiscriminator, priorCritic }.OfType<Module>();

    /// <summary>The networks and optimisers whose states a training checkpoint keeps, by name.</summary>
    internal (IReadOnlyList<(string Name, Module Module)> Modules, IReadOnlyList<(string Name, OptimizerHelper Optimizer)> Optimizers) CheckpointParts()
    {
        var modules = new List<(string, Module)> { ("encoder", encoder), ("decoder", decoder) };
        if (globalDiscriminator is not null) modules.Add(("global_mi", globalDiscriminator));
        if (localDiscriminator is not null) modules.Add(("local_mi", localDiscriminator));
        if (priorCritic is not null) modules.Add(("prior_critic", priorCritic));
        var optimizers = new List<(string, OptimizerHelper)> { ("main", mainOptimizer) };
        if (criticOptimizer is not null) optimizers.Add(("critic", criticOptimizer));
        return (modules, optimizers);
    }

    /// <summary>The device the networks live on.</summary>
    public Device Device { get; }

    /// <summary>The encoder E: images [N, C, H, W] → latents [N, d].</summary>
    public Module<Tensor, Tensor> Encoder => encoder;

    /// <summary>The decoder G: latents [N, d] → images [N, C, H, W] in [0, 1].</summary>
    public Module<Tensor, Tensor> Decoder => decoder;

    /// <summary>The global MI discriminator's input size: the latent size plus the flattened feature map M(x) (Eq. 9).</summary>
    public long GlobalMiInputSize => architecture.LatentDimension + architecture.FeatureSize;

    /// <summary>Whether the global MI discriminator exists (<see cref="MiaedOptions.UseGlobalMi"/>).</summary>
    public bool HasGlobalMiDiscriminator => globalDiscriminator is not null;

    /// <summary>Whether the local MI discriminator exists (<see cref="MiaedOptions.UseLocalMi"/>).</summary>
    public bool HasLocalMiDiscriminator => localDiscriminator is not null;

    /// <summary>Whether the prior critic exists (<see cref="MiaedOptions.UsePriorMatching"/>).</summary>
    public bool HasPriorCritic => priorCritic is not null;

    /// <summary>One training step on a batch of at least two images [N, C, H, W] on <see cref="Device"/> (see the class remarks).</summary>
    public MiaedLossTerms TrainStep(Tensor images)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentNullException.ThrowIfNull(images);
        if (images.size(0) < 2) throw new ArgumentException("A MIAED step needs at least 2 images: the MI terms pair each image with another one.", nameof(images));
        foreach (var module in Modules) module.train();
        using var scope = torch.NewDisposeScope();
        var o = options;
        var featureMap = encoder.Convolutions.forward(images);
        var latent = encoder.Head.forward(featureMap);

        var reconstruction = decoder.forward(latent);
        var reconstructionLoss = F.mse_loss(reconstruction, images);
        var noisyReconstruction = decoder.forward(latent + torch.randn_like(latent) * o.LatentNoiseStandardDeviation);
        var noiseLoss = F.mse_loss(noisyReconstruction, reconstruction);
        var total = o.ReconstructionWeight * reconstructionLoss + o.NoiseReconstructionWeight * noiseLoss;

        double? globalMi = null, localMi = null, priorLoss = null, criticLoss = null;
        if (globalDiscriminator is not null)
        {
            var flat = featureMap.flatten(1);
            var positive = globalDiscriminator.forward(torch.cat([latent, flat], 1));
            var negative = globalDiscriminator.forward(torch.cat([latent, MutualInformation.RollBatch(flat)], 1));
            var estimate = MutualInformation.JensenShannonEstimate(positive, negative);
            total = total - o.GlobalMiWeight * estimate;
            globalMi = estimate.item<float>();
        }
        if (localDiscriminator is not null)
        {
            var a = architecture;
            var latentMap = latent.view(-1, a.LatentDimension, 1, 1).expand(latent.size(0), a.LatentDimension, a.FeatureHeight, a.FeatureWidth);
            var positive = localDiscriminator.forward(torch.cat([featureMap, latentMap], 1));
            var negative = localDiscriminator.forward(torch.cat([MutualInformation.RollBatch(featureMap), latentMap], 1));
            // Averaging every location's score inside the estimator is Eq. 10's mean over the N² locations.
            var estimate = MutualInformation.JensenShannonEstimate(positive, negative);
            total = total - o.LocalMiWeight * estimate;
            localMi = estimate.item<float>();
        }
        if (priorCritic is not null)
        {
            var generatorLoss = -priorCritic.forward(latent).mean();
            total = total + o.PriorWeight * generatorLoss;
            priorLoss = generatorLoss.item<float>();
        }
        mainOptimizer.zero_grad();
        total.backward();
        mainOptimizer.step();

        if (priorCritic is not null)
        {
            var fake = latent.detach();
            var prior = torch.randn_like(fake) * o.PriorStandardDeviation;
            var penalty = GradientPenalty.Compute(priorCritic.forward, prior, fake);
            var critic = priorCritic.forward(fake).mean() - priorCritic.forward(prior).mean() + o.GradientPenaltyWeight * penalty;
            // zero_grad also drops the gradient the generator loss left in the critic's weights.
            criticOptimizer!.zero_grad();
            critic.backward();
            criticOptimizer.step();
            criticLoss = critic.item<float>();
        }
        return new MiaedLossTerms(total.item<float>(), globalMi, localMi, priorLoss, criticLoss,
            reconstructionLoss.item<float>(), noiseLoss.item<float>());
    }

    /// <summary>Hands the trained encoder to a transformer (in evaluation mode); disposing this object then leaves it alive.</summary>
    internal MiaedEncoder TakeEncoder()
    {
        encoderHandedOver = true;
        encoder.eval();
        return encoder;
    }

    /// <summary>Frees the networks (the encoder too unless it was handed to a transformer) and the optimisers.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        mainOptimizer.Dispose();
        criticOptimizer?.Dispose();
        foreach (var module in Modules)
            if (!(encoderHandedOver && ReferenceEquals(module, encoder))) module.Dispose();
    }
}
