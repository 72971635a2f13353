using F = TorchSharp.torch.nn.functional;

namespace MLDefense.Defenses;

/// <summary>
/// One minibatch of AE-GAN's training (Eq. 5, Alg. 1) on F, G and D with their two Adam optimisers: the D step, then the
/// F and G step (see <see cref="AeGanEstimator"/> for the losses and the departure from Eq. 5's generator term).
/// <see cref="AeGanEstimator.Fit(Microsoft.ML.IDataView)"/> trains with it, and <c>bench engine</c> times it, so the benchmark measures the code
/// that trains.
/// </summary>
internal sealed class AeGanTrainingStep : IDisposable
{
    private readonly AeGanEncoder encoder;
    private readonly AeGanGenerator generator;
    private readonly AeGanDiscriminator discriminator;
    private readonly OptimizerHelper discriminatorOptimizer;
    private readonly OptimizerHelper autoencoderOptimizer;
    private readonly int latentDimension;
    private readonly double reconstructionWeight;

    /// <summary>Creates the optimisers (Adam with the options' learning rate and β = (β₁, 0.999)) for networks already on their device.</summary>
    public AeGanTrainingStep(AeGanEncoder encoder, AeGanGenerator generator, AeGanDiscriminator discriminator, AeGanOptions options)
    {
        this.encoder = encoder;
        this.generator = generator;
        this.discriminator = discriminator;
        latentDimension = options.LatentDimension;
        reconstructionWeight = options.ReconstructionWeight;
        var betas = (options.AdamBeta1, 0.999);
        discriminatorOptimizer = torch.optim.Adam(discriminator.parameters(), options.LearningRate, betas.Item1, betas.Item2);
        autoencoderOptimizer = torch.optim.Adam(encoder.parameters().Concat(generator.parameters()), options.LearningRate, betas.Item1, betas.Item2);
    }

    /// <summary>The two optimisers by name (their states go into a training checkpoint).</summary>
    public IReadOnlyList<(string Name, OptimizerHelper Optimizer)> Optimizers =>
        [("discriminator", discriminatorOptimizer), ("autoencoder", autoencoderOptimizer)];

    /// <summary>
    /// Trains on the clean minibatch <paramref name="images"/> [N, C, H, W] with noise level σ = <paramref name="sigma"/>
    /// (0: no noise). The networks must be in training mode. Returns the batch's D loss, G's GAN loss and the reconstruction
    /// loss (mean ‖G(F(x + η)) − x‖² per image), scalars without gradient history in the caller's dispose scope.
    /// </summary>
    public (Tensor Discriminator, Tensor Generator, Tensor Reconstruction) Run(Tensor images, double sigma)
    {
        long n = images.size(0);
        var device = images.device;
        var real = torch.ones([n, 1], ScalarType.Float32, device);
        var fake = torch.zeros([n, 1], ScalarType.Float32, device);

        var z = torch.rand([n, latentDimension], ScalarType.Float32, device) * 2 - 1;
        var generated = generator.forward(z);
        var discriminatorLoss = F.binary_cross_entropy(discriminator.forward(images), real)
                              + F.binary_cross_entropy(discriminator.forward(generated.detach()), fake);
        discriminatorOptimizer.zero_grad();
        discriminatorLoss.backward();
        discriminatorOptimizer.step();

        var generatorLoss = F.binary_cross_entropy(discriminator.forward(generated), real);
        var noisy = sigma > 0 ? images + torch.randn_like(images) * sigma : images;
        var reconstructionLoss = (generator.forward(encoder.forward(noisy)) - images).square().sum() / n;
        var total = generatorLoss + reconstructionLoss * reconstructionWeight;
        autoencoderOptimizer.zero_grad();
        total.backward();
        autoencoderOptimizer.step();
        return (discriminatorLoss.detach(), generatorLoss.detach(), reconstructionLoss.detach());
    }

    /// <summary>Frees the optimisers and their state (the networks belong to the caller).</summary>
    public void Dispose()
    {
        discriminatorOptimizer.Dispose();
        autoencoderOptimizer.Dispose();
    }
}
