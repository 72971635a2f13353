using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Data;
using MLDefense.Evaluation;
using MLDefense.MLNet;

namespace MLDefense.Defenses;

/// <summary>What <see cref="MiaedEstimator.Fit(IDataView)"/> fixed besides the weights: shapes, the calibrated threshold and the training statistics. Saved with the model.</summary>
public sealed record MiaedModelInfo : IFittedImageDefense
{
    /// <summary>The image shape the encoder was trained for.</summary>
    public int Channels { get; init; }
    /// <summary>See <see cref="Channels"/>.</summary>
    public int Height { get; init; }
    /// <summary>See <see cref="Channels"/>.</summary>
    public int Width { get; init; }

    /// <summary>
    /// The encoder's design (Gao et al.'s Table 3, <c>MiaedArchitecture.Design</c>). A model saved before MIAED followed
    /// Table 3 (with Deep InfoMax-style networks) has none, and loading it is refused: fit it again.
    /// </summary>
    public string? Networks { get; init; }

    /// <summary>B, the channels of the encoder's first two convolutions (Table 3: 16 on MNIST, 32 on CIFAR-10).</summary>
    public int BaseChannels { get; init; }

    /// <summary>K, the class count of the simple network and the length the probabilities column must have.</summary>
    public int ClassCount { get; init; }

    /// <summary>
    /// The decision threshold on the JS score, calibrated on the held-out calibration rows: flagged when score &gt; threshold
    /// (<see cref="ThresholdCalibration.IsFlagged"/>).
    /// </summary>
    public float Threshold { get; init; }

    /// <summary>The number of clean rows the autoencoder and the simple network trained on.</summary>
    public int TrainingImageCount { get; init; }

    /// <summary>The number of clean rows held out from training to calibrate the threshold on (<see cref="MiaedOptions.CalibrationFraction"/>).</summary>
    public int CalibrationImageCount { get; init; }

    /// <summary>
    /// The fraction of the calibration rows the threshold flags (≤ the target; below it when scores tie): the estimate of
    /// the false-positive rate on new clean data.
    /// </summary>
    public double CalibrationFalsePositiveRate { get; init; }

    /// <summary>
    /// The fraction of the training rows the threshold flags, for comparison: usually below <see cref="CalibrationFalsePositiveRate"/>,
    /// since the simple network fits its own training rows better than new ones.
    /// </summary>
    public double TrainingFalsePositiveRate { get; init; }

    /// <summary>The simple network's accuracy on the training latents (evaluation mode).</summary>
    public double SimpleNetworkTrainingAccuracy { get; init; }

    /// <summary>The simple network's accuracy on the held-out calibration rows.</summary>
    public double SimpleNetworkCalibrationAccuracy { get; init; }

    /// <summary>The fraction of training rows whose target-model and simple-network argmax agree.</summary>
    public double TrainingArgmaxAgreement { get; init; }

    /// <summary>The same on the calibration rows: 1 − the false-positive rate of <see cref="MiaedDetectionRule.ArgmaxMismatch"/> on new clean data, estimated.</summary>
    public double CalibrationArgmaxAgreement { get; init; }

    /// <summary>The seed training used.</summary>
    public int Seed { get; init; }

    /// <summary>With <see cref="MiaedOptions.SimpleNetworkSelectionData"/>: the simple-network epoch whose weights were kept (the best selection loss); null without selection.</summary>
    public int? SimpleNetworkSelectedEpoch { get; init; }

    /// <summary>With selection: the epochs the simple network trained before it stopped; null without selection.</summary>
    public int? SimpleNetworkTrainedEpochs { get; init; }

    /// <summary>With selection: the kept epoch's cross-entropy on the selection images' latents; null without selection.</summary>
    public double? SimpleNetworkSelectionLoss { get; init; }

    /// <summary>With selection: the kept network's accuracy on the selection images' latents (their labels); null without selection.</summary>
    public double? SimpleNetworkSelectionAccuracy { get; init; }

    /// <summary>With selection: how many selection images there were; null without selection.</summary>
    public int? SelectionImageCount { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"threshold {Threshold:G6} calibrated on {CalibrationImageCount} held-out clean {Channels}x{Height}x{Width} images: FPR {CalibrationFalsePositiveRate:P2} " +
        $"(on the {TrainingImageCount} training images {TrainingFalsePositiveRate:P2}); simple network accuracy {SimpleNetworkCalibrationAccuracy:P2} held out, " +
        $"{SimpleNetworkTrainingAccuracy:P2} on training; argmax agreement with the target model {CalibrationArgmaxAgreement:P2} held out, {TrainingArgmaxAgreement:P2} on training" +
        (SimpleNetworkSelectedEpoch is int e
            ? $"; simple network selected at epoch {e} of {SimpleNetworkTrainedEpochs} on {SelectionImageCount} selection images (loss {SimpleNetworkSelectionLoss:F4}, accuracy {SimpleNetworkSelectionAccuracy:P2})"
            : "");
}

/// <summary>
/// A fitted MIAED detector (Gao et al., Sec. 3.2, Fig. 4): encodes each image with the MI-trained encoder, classifies
/// the latent with the simple network, and scores the disagreement between that distribution q and the target model's
/// probabilities p as JS(p, q) (<see cref="MiaedScoring"/>). See <see cref="MiaedEstimator"/> for the training.
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="MiaedOptions.ImageColumnName"/> (input)</term><description>float vector [C, H, W] of <see cref="InputShape"/></description></item>
/// <item><term><see cref="MiaedOptions.ProbabilitiesColumnName"/> (input)</term><description>float vector [K], K = <see cref="ClassCount"/>: the target model's probabilities</description></item>
/// <item><term><see cref="MiaedOptions.ScoreColumnName"/> (output)</term><description>float (Single) in [0, ln 2]: higher = more adversarial</description></item>
/// <item><term><see cref="MiaedOptions.FlagColumnName"/> (output)</term><description>Boolean: score &gt; <see cref="Threshold"/>, or argmax p ≠ argmax q with <see cref="MiaedDetectionRule.ArgmaxMismatch"/></description></item>
/// </list>
/// <para>The label is not needed. Inference runs in evaluation mode without autograd, in chunks of 256 rows on
/// <see cref="Device"/>; non-finite pixels or probabilities are rejected naming the row. Saving (ML.NET's <c>Model.Save</c>) writes the options,
/// <see cref="Info"/>, and the weights of the encoder and the simple network (safetensors streams). The decoder and the three discriminators serve only training and are neither
/// kept nor saved.</para>
/// </remarks>
public sealed class MiaedTransformer : BatchedTransformer, ILoadableComponent<MiaedTransformer>, IDisposable
{
    /// <summary>The name ML.NET's component catalog finds the loader by (<c>MLNet/LoadableComponents.cs</c>).</summary>
    internal const string LoaderSignature = "MLDefenseMiaed";

    private const string InfoFileName = "model.json";
    private const string EncoderFileName = "encoder.safetensors";
    private const string SimpleNetworkFileName = "simple-network.safetensors";

    private readonly MiaedEncoder encoder;
    private readonly MiaedSimpleNetwork simpleNetwork;
    private bool disposed;

    internal MiaedTransformer(MiaedOptions options, MiaedModelInfo info, MiaedEncoder encoder, MiaedSimpleNetwork simpleNetwork, Device device)
    {
        Options = options;
        Info = info;
        this.encoder = encoder;
        this.simpleNetwork = simpleNetwork;
        encoder.eval();
        simpleNetwork.eval();
        Device = device;
    }

    /// <summary>The options the detector was fitted with.</summary>
    public MiaedOptions Options { get; }

    /// <summary>Shapes, threshold and training statistics.</summary>
    public MiaedModelInfo Info { get; }

    /// <summary>The threshold calibrated on the held-out clean calibration rows: flag when score &gt; threshold (with <see cref="MiaedDetectionRule.Divergence"/>).</summary>
    public float Threshold => Info.Threshold;

    /// <summary>The number of classes K of the probabilities column.</summary>
    public int ClassCount => Info.ClassCount;

    /// <summary>The image shape the encoder takes.</summary>
    public ImageShape InputShape => new(Info.Channels, Info.Height, Info.Width);

    /// <summary>The device inference runs on.</summary>
    public Device Device { get; }

    /// <summary>The MI-trained latents E(x) of images [N, C, H, W] on <see cref="Device"/>: [N, d].</summary>
    public Tensor Latents(Tensor images)
    {
        CheckImages(images);
        return Encode(encoder, images);
    }

    /// <summary>The simple network's class probabilities q for images [N, C, H, W] on <see cref="Device"/>: [N, K].</summary>
    public Tensor SimpleNetworkProbabilities(Tensor images)
    {
        using var latents = Latents(images);
        return Classify(simpleNetwork, latents);
    }

    /// <summary>The MIAED scores JS(p, q) for images [N, C, H, W] and the target model's probabilities [N, K]: [N] float32.</summary>
    public Tensor Score(Tensor images, Tensor probabilities)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        using var q = SimpleNetworkProbabilities(images);
        if (!probabilities.shape.SequenceEqual(q.shape))
            throw new ArgumentException($"Expected probabilities [{images.size(0)}, {ClassCount}]; found [{string.Join(", ", probabilities.shape)}].", nameof(probabilities));
        using var onDevice = probabilities.to(ScalarType.Float32, Device);
        return MiaedScoring.JensenShannonDivergence(onDevice, q);
    }

    private void CheckImages(Tensor images)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        DefenseColumns.CheckImageTensor(images, InputShape, "the shape MIAED was trained on");
    }

    /// <summary>Latents in evaluation mode without autograd, in chunks.</summary>
    internal static Tensor Encode(MiaedEncoder encoder, Tensor images)
    {
        bool wasTraining = encoder.training;
        encoder.eval();
        try
        {
            using var _ = torch.no_grad();
            var parts = new List<Tensor>();
            try
            {
                long n = images.size(0);
                for (long start = 0; start < n; start += DefenseInference.ChunkSize)
                {
                    using var chunk = images.narrow(0, start, Math.Min(DefenseInference.ChunkSize, n - start));
                    parts.Add(encoder.forward(chunk));
                }
                return parts.Count == 1 ? parts[0].alias() : torch.cat(parts, 0);
            }
            finally
            {
                foreach (var part in parts) part.Dispose();
            }
        }
        finally
        {
            encoder.train(wasTraining);
        }
    }

    /// <summary>Softmax of the simple network in evaluation mode without autograd.</summary>
    internal static Tensor Classify(MiaedSimpleNetwork network, Tensor latents)
    {
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var _ = torch.no_grad();
            using var logits = network.forward(latents);
            return logits.softmax(1);
        }
        finally
        {
            network.train(wasTraining);
        }
    }

    /// <summary>Eq. 17 on consecutive rows (row-major pixels and probabilities) in chunks on <see cref="Device"/>: [scores, flags].</summary>
    internal Array[] ScoreAll(float[] pixels, float[] probabilities, int rows, long firstRow)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        string imageName = Options.ImageColumnName, probabilitiesName = Options.ProbabilitiesColumnName;
        var shape = InputShape;
        int k = ClassCount;
        DefenseColumns.CheckFinite(pixels, shape.Size, firstRow, imageName);
        DefenseColumns.CheckFinite(probabilities, k, firstRow, probabilitiesName, "probabilities");

        var scores = new float[rows];
        var mismatches = new bool[rows];
        foreach (var (start, count) in DefenseInference.Chunks(rows))
        {
            using var scope = torch.NewDisposeScope();
            var p = TensorData.FromSpan(probabilities.AsSpan(start * k, count * k), [count, k], Device);
            var q = SimpleNetworkProbabilities(DefenseInference.Images(pixels, shape, start, count, Device));
            MiaedScoring.JensenShannonDivergence(p, q).cpu().data<float>().CopyTo(scores.AsSpan(start, count));
            var differ = p.argmax(1).ne(q.argmax(1)).cpu().data<bool>().ToArray();
            differ.CopyTo(mismatches, start);
        }
        var flags = Options.DetectionRule == MiaedDetectionRule.ArgmaxMismatch ? mismatches : DefenseInference.Flags(scores, Threshold);
        return [scores, flags];
    }

    /// <summary>The columns added: the score (Single) and the flag (Boolean).</summary>
    internal static DataViewSchema.DetachedColumn[] AddedColumns(MiaedOptions options) =>
    [
        new(options.ScoreColumnName, NumberDataViewType.Single),
        new(options.FlagColumnName, BooleanDataViewType.Instance),
    ];

    private protected override IRowBatchMapper Mapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ImageColumns.Check(inputSchema, Options.ImageColumnName, InputShape, "the image MIAED encodes", "the shape MIAED was trained on");
        ProbabilityColumns.Check(inputSchema, Options.ProbabilitiesColumnName, ClassCount);
        return new BatchMapper(this);
    }

    private sealed class BatchMapper(MiaedTransformer owner) : IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.Options.ImageColumnName, owner.Options.ProbabilitiesColumnName];
        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } = AddedColumns(owner.Options);
        public int BatchSize => DefenseInference.ChunkSize;
        public IReadOnlyList<Array> MapBatch(RowBatch batch) => owner.ScoreAll(batch.Get<float>(owner.Options.ImageColumnName),
            batch.Get<float>(owner.Options.ProbabilitiesColumnName), batch.RowCount, batch.FirstPosition);
    }

    static ComponentFormat ILoadableComponent<MiaedTransformer>.Format { get; } = new("MLDMIAED", 1, LoaderSignature, "MIAED detector");

    private protected override void SaveModel(ModelSaveContext context)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ComponentWriter.Write<MiaedTransformer>(context, writer =>
        {
            writer.WriteOptions(Options);
            writer.WriteJson(InfoFileName, Info);
            writer.WriteModule(encoder, EncoderFileName);
            writer.WriteModule(simpleNetwork, SimpleNetworkFileName);
        });
    }

    static MiaedTransformer ILoadableComponent<MiaedTransformer>.Load(ComponentReader reader)
    {
        var options = reader.ReadOptions<MiaedOptions>();
        var info = reader.ReadJson<MiaedModelInfo>(InfoFileName);
        var shape = DefenseModelFiles.Check(options, info, MiaedEstimator.CheckOptions, CheckFitted);
        var device = reader.Device;
        using var networks = new PendingNetworks();
        var encoder = networks.Add(new MiaedEncoder(MiaedEstimator.ResolveArchitecture(options, shape)));
        var simpleNetwork = networks.Add(new MiaedSimpleNetwork(options.LatentDimension, options.SimpleNetworkHiddenUnits, options.SimpleNetworkDropout, info.ClassCount));
        reader.ReadModule(encoder, EncoderFileName);
        reader.ReadModule(simpleNetwork, SimpleNetworkFileName);
        encoder.to(device);
        simpleNetwork.to(device);
        return networks.HandOver(new MiaedTransformer(options, info, encoder, simpleNetwork, device));
    }

    /// <summary>What a loaded model must satisfy besides its options: the architecture its options give is the one it was fitted with.</summary>
    private static void CheckFitted(MiaedOptions o, MiaedModelInfo fitted, ImageShape s)
    {
        if (fitted.Networks != MiaedArchitecture.Design)
            throw new ArgumentException(fitted.Networks is null
                ? "it was saved by an earlier MLDefense whose MIAED had Deep InfoMax-style networks (strided 4x4 convolutions, an FC 1024 hidden layer, batch norm), " +
                  "not Gao et al.'s Table 3 networks this version builds; fit the detector again."
                : $"its networks are '{fitted.Networks}', not the '{MiaedArchitecture.Design}' this version builds; fit the detector again.");
        int baseChannels = MiaedEstimator.ResolveArchitecture(o, s).BaseChannels;
        if (baseChannels != fitted.BaseChannels)
            throw new ArgumentException($"the options give base channels {baseChannels} but the model has {fitted.BaseChannels}.");
        if (fitted.ClassCount < 2) throw new ArgumentException($"the class count {fitted.ClassCount} is below 2.");
    }

    /// <summary>Frees the encoder and the simple network.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        encoder.Dispose();
        simpleNetwork.Dispose();
    }
}
