using MLDefense.Data;

namespace MLDefense.Defenses;

/// <summary>
/// The sizes of MIAED's networks, resolved from the options and the image shape. Gao et al.'s Tables 3 and 4 fix
/// them for MNIST and CIFAR-10; the tables were not available to this implementation, so the encoder and decoder
/// follow Deep InfoMax's (Hjelm et al., ICLR 2019) "DCGAN-style" 32×32 encoder, which MIAED builds on (see
/// <see cref="MiaedEncoder"/>).
/// </summary>
/// <param name="Image">The input image shape.</param>
/// <param name="Downsamplings">Stride-2 convolutions: 2 for 28×28 (MNIST variant: 28 → 14 → 7), 3 for 32×32 (CIFAR variant: 32 → 16 → 8 → 4).</param>
/// <param name="BaseChannels">Channels of the first convolution; each further one doubles them (64, 128[, 256]).</param>
/// <param name="EncoderHiddenUnits">The fully connected layer between the feature map and the latent (1024).</param>
/// <param name="LatentDimension">The latent size (64, Sec. 3.1).</param>
/// <param name="DiscriminatorHiddenUnits">The hidden width of the three discriminators (256, Table 4).</param>
internal sealed record MiaedArchitecture(ImageShape Image, int Downsamplings, int BaseChannels, int EncoderHiddenUnits, int LatentDimension,
    int DiscriminatorHiddenUnits)
{
    public int FeatureChannels => BaseChannels << (Downsamplings - 1);
    public int FeatureHeight => Image.Height >> Downsamplings;
    public int FeatureWidth => Image.Width >> Downsamplings;
    public int FeatureSize => FeatureChannels * FeatureHeight * FeatureWidth;
}

/// <summary>
/// MIAED's encoder E (Gao et al., Sec. 3.1): stride-2 4×4 convolutions (ReLU; batch norm after all but the first)
/// whose last output is the feature map M(x) the MI terms read, then flatten → FC 1024 → BN → ReLU → FC 64 = the
/// latent E(x).
/// </summary>
/// <remarks>
/// Why this shape: it is Deep InfoMax's 32×32 encoder (conv 64-128-256, 4×4, stride 2, then FC 1024 and FC 64), the
/// network whose global/local MI objective MIAED adopts; for 28×28 MNIST images the third convolution is dropped so
/// that the feature map stays 7×7 (a third one would give 3×3, too few locations for the local MI term of Eq. 10).
/// </remarks>
internal sealed class MiaedEncoder : Module<Tensor, Tensor>
{
    public MiaedEncoder(MiaedArchitecture a) : base(nameof(MiaedEncoder))
    {
        var convolutions = torch.nn.Sequential();
        int inChannels = a.Image.Channels;
        for (int i = 0; i < a.Downsamplings; i++)
        {
            int outChannels = a.BaseChannels << i;
            convolutions.append(torch.nn.Conv2d(inChannels, outChannels, 4, stride: 2, padding: 1));
            if (i > 0) convolutions.append(torch.nn.BatchNorm2d(outChannels));
            convolutions.append(torch.nn.ReLU());
            inChannels = outChannels;
        }
        Convolutions = this.Register("convolutions", convolutions);
        Head = this.Register("head", torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(a.FeatureSize, a.EncoderHiddenUnits),
            torch.nn.BatchNorm1d(a.EncoderHiddenUnits),
            torch.nn.ReLU(),
            torch.nn.Linear(a.EncoderHiddenUnits, a.LatentDimension)));
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    /// <summary>Images [N, C, H, W] → M(x) [N, C', H', W'].</summary>
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
/// MIAED's decoder G: the encoder mirrored — FC 64 → 1024 → BN → ReLU → FC → M-shaped map → BN → ReLU, then
/// stride-2 4×4 transposed convolutions (BN + ReLU between them) to the image, with a sigmoid so outputs lie in [0, 1]
/// like the inputs.
/// </summary>
internal sealed class MiaedDecoder : Module<Tensor, Tensor>
{
    private readonly MiaedArchitecture architecture;

    public MiaedDecoder(MiaedArchitecture a) : base(nameof(MiaedDecoder))
    {
        architecture = a;
        Head = this.Register("head", torch.nn.Sequential(
            torch.nn.Linear(a.LatentDimension, a.EncoderHiddenUnits),
            torch.nn.BatchNorm1d(a.EncoderHiddenUnits),
            torch.nn.ReLU(),
            torch.nn.Linear(a.EncoderHiddenUnits, a.FeatureSize),
            torch.nn.BatchNorm1d(a.FeatureSize),
            torch.nn.ReLU()));
        var deconvolutions = torch.nn.Sequential();
        for (int i = a.Downsamplings - 1; i >= 0; i--)
        {
            int inChannels = a.BaseChannels << i;
            int outChannels = i == 0 ? a.Image.Channels : a.BaseChannels << (i - 1);
            deconvolutions.append(torch.nn.ConvTranspose2d(inChannels, outChannels, 4, stride: 2, padding: 1));
            if (i > 0)
            {
                deconvolutions.append(torch.nn.BatchNorm2d(outChannels));
                deconvolutions.append(torch.nn.ReLU());
            }
        }
        deconvolutions.append(torch.nn.Sigmoid());
        Deconvolutions = this.Register("deconvolutions", deconvolutions);
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    public Sequential Head { get; }
    public Sequential Deconvolutions { get; }

    public override Tensor forward(Tensor input)
    {
        var a = architecture;
        using var flat = Head.forward(input);
        using var map = flat.view(-1, a.FeatureChannels, a.FeatureHeight, a.FeatureWidth);
        return Deconvolutions.forward(map);
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
