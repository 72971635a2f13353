using MLDefense.Data;

namespace MLDefense.Defenses;

/// <summary>
/// The sizes of MIAED's networks, resolved from the options and the image shape: Gao et al.'s Table 3 (the MI dual
/// autoencoder) and Table 4 (the discriminators). Table 3's MNIST and CIFAR-10 columns are one design at two widths:
/// B = 16 (MNIST) or 32 (CIFAR-10) channels in the first two convolutions, 2B in the next two, two 2×2 max poolings, so
/// the feature map M(x) is 2B × H/4 × W/4 (32×7×7 on MNIST, 64×8×8 on CIFAR-10).
/// </summary>
/// <param name="Image">The input image shape (H and W divisible by 4).</param>
/// <param name="BaseChannels">B, the channels of the first two convolutions; the next two have 2B.</param>
/// <param name="LatentDimension">The latent size (64, Sec. 3.1 and Table 3's "Fully Connected 64").</param>
/// <param name="DiscriminatorHiddenUnits">The hidden width of the three discriminators (256, Table 4).</param>
internal sealed record MiaedArchitecture(ImageShape Image, int BaseChannels, int LatentDimension, int DiscriminatorHiddenUnits)
{
    /// <summary>The 2×2 max poolings of the encoder (and 2× up-samplings of the decoder): 2 in Table 3.</summary>
    public const int Poolings = 2;

    /// <summary>What the checkpoint settings and a saved model's info call this design (see <see cref="MiaedModelInfo.Networks"/>).</summary>
    public const string Design = "Table 3: 3x3 convolutions B, B, max-pool, 2B, 2B, max-pool, FC latent (linear); decoder FC, ReLU, up-sample, 3x3 convolutions 2B, 2B, up-sample, B, B, C, sigmoid";

    public int FeatureChannels => 2 * BaseChannels;
    public int FeatureHeight => Image.Height >> Poolings;
    public int FeatureWidth => Image.Width >> Poolings;
    public int FeatureSize => FeatureChannels * FeatureHeight * FeatureWidth;

    /// <summary>Table 3's width for an image: 16 for single-channel images (the MNIST column), 32 otherwise (the CIFAR-10 column).</summary>
    public static int DefaultBaseChannels(ImageShape image) => image.Channels == 1 ? 16 : 32;
}

/// <summary>
/// How MIAED's encoder and decoder start: He-normal weights (N(0, 2/fan_in), fan_in = C_in·k² or the FC's inputs) and
/// zero biases, as the authors' code initialises its encoder and decoder (Keras' he_normal and zero biases; the paper
/// gives no initialisation).
/// </summary>
/// <remarks>
/// Why not libtorch's default (uniform with a variance of 1/(3·fan_in)): without batch norm, each of the encoder's
/// ReLU layers then shrinks the signal's variance about sixfold, so after four convolutions and the FC the latents of
/// different images differ by about 0.1% of their size (measured: a spread of 0.0014 over an MNIST batch) and the first
/// epochs are spent recovering from nearly constant latents. He initialisation keeps the variance through ReLU layers.
/// </remarks>
internal static class MiaedInitialization
{
    public static void HeNormal(Module network)
    {
        using var _ = torch.no_grad();
        foreach (var layer in network.modules())
        {
            var (weight, bias) = layer switch
            {
                Conv2d c => (c.weight, c.bias),
                Linear l => (l.weight, l.bias),
                _ => (null, null),
            };
            if (weight is null) continue;
            torch.nn.init.kaiming_normal_(weight, mode: torch.nn.init.FanInOut.FanIn, nonlinearity: torch.nn.init.NonlinearityType.ReLU);
            if (bias is not null) torch.nn.init.zeros_(bias);
        }
    }
}

/// <summary>
/// MIAED's encoder E, Gao et al.'s Table 3: (Conv(B, 3×3, stride 1, same padding), ReLU) × 2, max-pool 2×2,
/// (Conv(2B, 3×3), ReLU) × 2, max-pool 2×2 — whose output is the feature map M(x) the MI terms of Eq. 9 and 10 read —
/// then flatten and a linear FC to the latent E(x) (Table 3's "Fully Connected 64", no activation). No batch
/// normalisation. B = 16 on MNIST (M(x) 32×7×7), 32 on CIFAR-10 (M(x) 64×8×8). He-normal initialisation
/// (<see cref="MiaedInitialization"/>).
/// </summary>
/// <remarks>
/// M(x) is taken after the second pooling, as in the authors' code (its MNIST encoder model ends at the pooled map, and
/// the FC 64 is a separate model on top of it), so the local MI term scores (H/4)·(W/4) locations.
/// </remarks>
internal sealed class MiaedEncoder : Module<Tensor, Tensor>
{
    public MiaedEncoder(MiaedArchitecture a) : base(nameof(MiaedEncoder))
    {
        int b = a.BaseChannels, c = a.FeatureChannels;
        Convolutions = this.Register("convolutions", torch.nn.Sequential(
            torch.nn.Conv2d(a.Image.Channels, b, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Conv2d(b, b, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(b, c, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Conv2d(c, c, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2)));
        Head = this.Register("head", torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(a.FeatureSize, a.LatentDimension)));
        MiaedInitialization.HeNormal(this);
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    /// <summary>Images [N, C, H, W] → M(x) [N, 2B, H/4, W/4].</summary>
    public Sequential Convolutions { get; }

    /// <summary>M(x) → latent [N, d].</summary>
    public Sequential Head { get; }

    public override Tensor forward(Tensor input)
    {
        using var featureMap = Convolutions.forward(input);
        return Head.forward(featureMap);
    }
}

/// <summary>
/// MIAED's decoder G, Gao et al.'s Table 3: FC d → 2B·(H/4)·(W/4), ReLU, reshape to [2B, H/4, W/4], up-sample 2×2
/// (nearest, as Keras' UpSampling2D), (Conv(2B, 3×3, same), ReLU) × 2, up-sample 2×2, (Conv(B, 3×3), ReLU) × 2,
/// Conv(C, 3×3), sigmoid — so outputs lie in [0, 1] like the inputs. No batch normalisation. He-normal initialisation
/// (<see cref="MiaedInitialization"/>).
/// </summary>
internal sealed class MiaedDecoder : Module<Tensor, Tensor>
{
    private readonly MiaedArchitecture architecture;

    public MiaedDecoder(MiaedArchitecture a) : base(nameof(MiaedDecoder))
    {
        architecture = a;
        int b = a.BaseChannels, c = a.FeatureChannels;
        Head = this.Register("head", torch.nn.Sequential(
            torch.nn.Linear(a.LatentDimension, a.FeatureSize),
            torch.nn.ReLU()));
        Convolutions = this.Register("convolutions", torch.nn.Sequential(
            torch.nn.Upsample(scale_factor: [2, 2], mode: UpsampleMode.Nearest),
            torch.nn.Conv2d(c, c, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Conv2d(c, c, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Upsample(scale_factor: [2, 2], mode: UpsampleMode.Nearest),
            torch.nn.Conv2d(c, b, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Conv2d(b, b, 3, padding: 1), torch.nn.ReLU(),
            torch.nn.Conv2d(b, a.Image.Channels, 3, padding: 1),
            torch.nn.Sigmoid()));
        MiaedInitialization.HeNormal(this);
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    /// <summary>Latent [N, d] → the flattened map [N, 2B·(H/4)·(W/4)] (after the ReLU).</summary>
    public Sequential Head { get; }

    /// <summary>The reshaped map [N, 2B, H/4, W/4] → images [N, C, H, W].</summary>
    public Sequential Convolutions { get; }

    public override Tensor forward(Tensor input)
    {
        var a = architecture;
        using var flat = Head.forward(input);
        using var map = flat.view(-1, a.FeatureChannels, a.FeatureHeight, a.FeatureWidth);
        return Convolutions.forward(map);
    }
}

/// <summary>
/// A discriminator FC h-h-1 with ReLUs (Table 4's 256-256-1). Used for the global MI term (input: latent concatenated
/// with the flattened feature map, Eq. 9) and the prior critic (input: a latent, Eq. 11). It outputs the raw score:
/// the JS estimator applies the sigmoid implicitly (<see cref="MutualInformation"/>) and a WGAN critic needs none.
/// </summary>
internal sealed class MiaedMlpDiscriminator : Module<Tensor, Tensor>
{
    public MiaedMlpDiscriminator(int inputSize, int hiddenUnits) : base(nameof(MiaedMlpDiscriminator))
    {
        Layers = this.Register("layers", torch.nn.Sequential(
            torch.nn.Linear(inputSize, hiddenUnits), torch.nn.ReLU(),
            torch.nn.Linear(hiddenUnits, hiddenUnits), torch.nn.ReLU(),
            torch.nn.Linear(hiddenUnits, 1)));
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    public Sequential Layers { get; }

    public override Tensor forward(Tensor input) => Layers.forward(input);
}

/// <summary>
/// The local MI discriminator (Eq. 10, Fig. 3): the latent is copied to every location of the feature map and
/// concatenated with it along the channels, then 1×1 convolutions h-h-1 score every location: [N, C' + d, H', W'] →
/// [N, 1, H', W'].
/// </summary>
internal sealed class MiaedLocalDiscriminator : Module<Tensor, Tensor>
{
    public MiaedLocalDiscriminator(int featureChannels, int latentDimension, int hiddenUnits) : base(nameof(MiaedLocalDiscriminator))
    {
        Layers = this.Register("layers", torch.nn.Sequential(
            torch.nn.Conv2d(featureChannels + latentDimension, hiddenUnits, 1), torch.nn.ReLU(),
            torch.nn.Conv2d(hiddenUnits, hiddenUnits, 1), torch.nn.ReLU(),
            torch.nn.Conv2d(hiddenUnits, 1, 1)));
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    public Sequential Layers { get; }

    public override Tensor forward(Tensor input) => Layers.forward(input);
}

/// <summary>
/// The detector's "simple network" (Sec. 3.2, Fig. 4, Table 4): latent → FC 1024 → BN → ReLU → Dropout 0.5 → FC 512 →
/// BN → ReLU → Dropout 0.5 → FC K (logits; the softmax is applied where probabilities are needed).
/// </summary>
internal sealed class MiaedSimpleNetwork : Module<Tensor, Tensor>
{
    public MiaedSimpleNetwork(int latentDimension, IReadOnlyList<int> hiddenUnits, double dropout, int classCount) : base(nameof(MiaedSimpleNetwork))
    {
        var layers = torch.nn.Sequential();
        int inputs = latentDimension;
        foreach (int units in hiddenUnits)
        {
            layers.append(torch.nn.Linear(inputs, units));
            layers.append(torch.nn.BatchNorm1d(units));
            layers.append(torch.nn.ReLU());
            layers.append(torch.nn.Dropout(dropout));
            inputs = units;
        }
        layers.append(torch.nn.Linear(inputs, classCount));
        Layers = this.Register("layers", layers);
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    public Sequential Layers { get; }

    public override Tensor forward(Tensor input) => Layers.forward(input);
}
