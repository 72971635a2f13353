using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Data;
using MLDefense.Evaluation;
using MLDefense.MLNet;

namespace MLDefense.Defenses;

/// <summary>
/// A fitted AE-GAN+sr purifier (Sec. 3.4, Alg. 2): scores each image by its reconstruction error d(G(F(x)), x), flags it
/// when the score exceeds <see cref="Threshold"/>, and outputs G(F(x)) for unflagged images and G(z_L) after the
/// encoder-assisted latent search for flagged ones. See <see cref="AeGanEstimator"/> for the equations.
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="AeGanOptions.ImageColumnName"/> (input)</term><description>float vector [C, H, W] of <see cref="InputShape"/>, finite values (normally in [0, 1])</description></item>
/// <item><term><see cref="AeGanOptions.OutputColumnName"/> (output)</term><description>Single vector [C, H, W] of <see cref="InputShape"/> (the input's type): the purified image, ready for a classifier</description></item>
/// <item><term><see cref="AeGanOptions.ScoreColumnName"/> (output)</term><description>float (Single) ≥ 0: the reconstruction error, higher = more adversarial</description></item>
/// <item><term><see cref="AeGanOptions.FlagColumnName"/> (output)</term><description>Boolean: score &gt; <see cref="Threshold"/> (<see cref="ThresholdCalibration.IsFlagged"/>)</description></item>
/// </list>
/// <para>Transform runs on <see cref="Device"/> in chunks of 256 images, the networks in evaluation mode; the search runs on
/// all flagged images of a chunk at once. Images of another shape or holding NaN or infinities are rejected naming the
/// column (and the row). The public tensor methods serve benchmarks and defense-aware attacks: <see cref="Purify"/>,
/// <see cref="ReconstructionError"/>, <see cref="MagNetReconstruct"/>, <see cref="EncoderAssistedSearch"/>,
/// <see cref="DefenseGanSearch"/>, <see cref="PurifyStraightThrough"/> (BPDA, wrapped by <see cref="AeGanBpdaClassifier"/>), and
/// <see cref="PurifyUnrolled"/> and <see cref="ReconstructDifferentiable"/> (white-box, wrapped by <see cref="AeGanWhiteBoxClassifier"/>);
/// they reject images of another shape, dtype or device, and NaN or infinite values. Saving (ML.NET's <c>Model.Save</c>) writes the options, <see cref="Calibration"/>
/// and the weights of F and G (safetensors streams); the
/// discriminator is needed only for training and is not kept. Dispose frees the networks.</para>
/// </remarks>
public sealed class AeGanTransformer : BatchedTransformer, ILoadableComponent<AeGanTransformer>, IDisposable
{
    /// <summary>The name ML.NET's component catalog finds the loader by (<c>MLNet/LoadableComponents.cs</c>).</summary>
    internal const string LoaderSignature = "MLDefenseAeGanPurifier";

    private const string CalibrationFileName = "calibration.json";
    private const string EncoderFileName = "encoder.safetensors";
    private const string GeneratorFileName = "generator.safetensors";

    private readonly AeGanEncoder encoder;
    private readonly AeGanGenerator generator;
    private bool disposed;

    internal AeGanTransformer(AeGanOptions options, AeGanCalibration calibration, AeGanEncoder encoder, AeGanGenerator generator, Device device)
    {
        Options = options;
        Calibration = calibration;
        this.encoder = encoder;
        this.generator = generator;
        Device = device;
        encoder.eval();
        generator.eval();
    }

    /// <summary>Builds F and G for <paramref name="shape"/> on <paramref name="device"/> (default initialisation), added to <paramref name="networks"/>.</summary>
    internal static (AeGanEncoder Encoder, AeGanGenerator Generator) CreateNetworks(PendingNetworks networks, AeGanOptions options, ImageShape shape, Device device)
    {
        var encoder = networks.Add(new AeGanEncoder(shape, options.LatentDimension, options.BaseChannels));
        var generator = networks.Add(new AeGanGenerator(shape, options.LatentDimension, options.BaseChannels));
        encoder.to(device);
        generator.to(device);
        return (encoder, generator);
    }

    /// <summary>The options the purifier was fitted with (column names, networks, detector and search settings).</summary>
    public AeGanOptions Options { get; }

    /// <summary>What Fit recorded: the input shape and the calibrated threshold.</summary>
    public AeGanCalibration Calibration { get; }

    /// <summary>The reconstruction-error threshold calibrated on clean images: flag when score &gt; threshold.</summary>
    public float Threshold => Calibration.Threshold;

    /// <summary>The image shape the networks were trained on; Transform requires it.</summary>
    public ImageShape InputShape => new(Calibration.Channels, Calibration.Height, Calibration.Width);

    /// <summary>The device the networks live on (the fitting or loading context's).</summary>
    public Device Device { get; }

    /// <summary>The encoder F (evaluation mode), e.g. for a defense-aware attack that differentiates through the purifier.</summary>
    public AeGanEncoder Encoder
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return encoder;
        }
    }

    /// <summary>The decoder/generator G (evaluation mode).</summary>
    public AeGanGenerator Generator
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            return generator;
        }
    }

    /// <summary>
    /// MagNet-style purification: the plain reconstruction G(F(x)) of [N, C, H, W] images on <see cref="Device"/>, without
    /// gradient history. What Alg. 2 outputs for unflagged images.
    /// </summary>
    public Tensor MagNetReconstruct(Tensor images)
    {
        CheckImages(images);
        using var _ = torch.no_grad();
        using var code = encoder.forward(images);
        return generator.forward(code);
    }

    /// <summary>The detection score of each image: d(G(F(x)), x) with the options' distance. [N] float32.</summary>
    public Tensor ReconstructionError(Tensor images)
    {
        using var reconstruction = MagNetReconstruct(images);
        using var _ = torch.no_grad();
        return AeGanPurification.ReconstructionError(reconstruction, images, Options.Distance);
    }

    /// <summary>
    /// The encoder-assisted search of Alg. 2 for every image: z₀ = F(x), <paramref name="steps"/> (default
    /// <see cref="AeGanOptions.SearchSteps"/>) gradient steps on ‖G(z) − x‖² with the options' step size halving schedule;
    /// returns G(z_L) [N, C, H, W]. <paramref name="trace"/> receives the mean ‖G(z_t) − x‖² per image at each step.
    /// </summary>
    public Tensor EncoderAssistedSearch(Tensor images, int? steps = null, List<double>? trace = null)
    {
        CheckImages(images);
        using var scope = torch.NewDisposeScope();
        Tensor start;
        using (torch.no_grad()) start = encoder.forward(images);
        var z = AeGanPurification.SearchLatent(generator, start, images, steps ?? Options.SearchSteps, Options.SearchStepSize,
            Options.SearchHalvingInterval, trace);
        using var _ = torch.no_grad();
        return generator.forward(z).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Defense-GAN-style search with the same decoder, for comparison (<see cref="AeGanPurification.DefenseGanProjection"/>):
    /// <paramref name="restarts"/> random starts z ~ U[−1, 1]^k (Defense-GAN's R = 10), <paramref name="iterations"/> steps of
    /// gradient descent with momentum (L = 200) on ‖G(z) − x‖², and per image the best final reconstruction. The step size
    /// defaults to Defense-GAN's (<see cref="AeGanPurification.DefenseGanStepSize"/>). The starts come from
    /// <paramref name="seed"/>, so the result is reproducible; images are searched in chunks of
    /// <see cref="DefenseGanChunk"/> (R codes each) to bound memory. [N, C, H, W].
    /// </summary>
    /// <param name="images">[N, C, H, W] images on <see cref="Device"/>.</param>
    /// <param name="restarts">R.</param>
    /// <param name="iterations">L.</param>
    /// <param name="seed">The seed of the starts (chunk c uses seed + c).</param>
    /// <param name="stepSize">The step size on the summed distance; null = Defense-GAN's.</param>
    /// <param name="unrolled">
    /// True keeps all R·L steps in the autograd graph, so the output is differentiable with respect to the images (Defense-GAN's
    /// white-box attack, <see cref="AeGanPurification.DefenseGanProjection"/>); the values are the same. The graph of every
    /// chunk lives until the caller's backward pass, so chunking then bounds nothing: memory grows with N·R·L.
    /// </param>
    public Tensor DefenseGanSearch(Tensor images, int restarts = 10, int iterations = 200, int seed = 0, double? stepSize = null, bool unrolled = false)
    {
        CheckImages(images);
        double eta = stepSize ?? AeGanPurification.DefenseGanStepSize(InputShape.Size);
        long n = images.size(0);
        if (n <= DefenseGanChunk)
            return AeGanPurification.DefenseGanProjection(generator, images, Options.LatentDimension, restarts, iterations, eta, seed, unrolled);
        using var scope = torch.NewDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < n; start += DefenseGanChunk)
            parts.Add(AeGanPurification.DefenseGanProjection(generator, images.narrow(0, start, Math.Min(DefenseGanChunk, n - start)), Options.LatentDimension,
                                                             restarts, iterations, eta, unchecked(seed + (int)(start / DefenseGanChunk)), unrolled));
        return torch.cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>The images <see cref="DefenseGanSearch"/> searches at once (with R codes each).</summary>
    public const int DefenseGanChunk = 64;

    /// <summary>
    /// Alg. 2 on a batch: purified images [N, C, H, W] — G(F(x)) for unflagged images, G(z_L) after the encoder-assisted
    /// search for flagged ones (or for all or none, per <see cref="AeGanOptions.SearchPolicy"/>).
    /// </summary>
    public Tensor Purify(Tensor images)
    {
        var (purified, _, _) = PurifyWithScores(images);
        return purified;
    }

    /// <summary>Alg. 2 with its by-products: the purified images, the scores (on the CPU) and the flags.</summary>
    public (Tensor Purified, float[] Scores, bool[] Flags) PurifyWithScores(Tensor images)
    {
        CheckImages(images);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var p = Plan(images.detach(), unrolled: false);
        return (Assemble(p, images).MoveToOuterDisposeScope(), p.Scores, p.Flags);
    }

    /// <summary>
    /// Alg. 2 for a white-box attack (Sec. 3.1: the attacker knows the classifier and the defense): the same purified images
    /// as <see cref="Purify"/> — G(F(x)) for unflagged images, G(z_L) after the encoder-assisted search for flagged ones, per
    /// <see cref="AeGanOptions.SearchPolicy"/> — but computed inside the autograd graph: F, G and all L search steps, each
    /// step's gradient ∇_z ‖G(z_t) − x‖² taken with <c>create_graph</c> (<see cref="AeGanPurification.SearchLatent"/> with
    /// <c>unrolled: true</c>), so the input gradient runs through the unrolled search as Defense-GAN's white-box attack runs
    /// through its reconstruction. The detector's flags, the safeguard's accept/reject choices and the clipping are piecewise
    /// constant: the gradient is that of the branch each image took. [N, C, H, W]; with grad mode off (or images that
    /// do not require grad) it is <see cref="Purify"/>'s value without history. Memory grows with N·L (the graph of every step).
    /// Wrapped by <see cref="AeGanWhiteBoxClassifier"/>.
    /// </summary>
    public Tensor PurifyUnrolled(Tensor images)
    {
        CheckImages(images);
        using var scope = torch.NewDisposeScope();
        var p = Plan(images, unrolled: true);
        return Assemble(p, images).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// MagNet-style purification inside the autograd graph: G(F(x)) [N, C, H, W], differentiable with respect to the images
    /// when grad mode is on — what a white-box attack on MagNet, or on AE-GAN+sr without its search, differentiates (Table 1's
    /// MagNet column). The same value as <see cref="MagNetReconstruct"/>.
    /// </summary>
    public Tensor ReconstructDifferentiable(Tensor images)
    {
        CheckImages(images);
        using var code = encoder.forward(images);
        return generator.forward(code);
    }

    /// <summary>The purified batch of a plan: its reconstructions with the searched rows replaced by G(z_L).</summary>
    private Tensor Assemble(PurificationPlan p, Tensor images)
    {
        if (p.Rows is null) return p.Reconstruction.alias();
        var found = generator.forward(p.Found!);
        var s = images.shape;
        var index = p.Rows.view(-1, 1, 1, 1).expand(p.Rows.size(0), s[1], s[2], s[3]);
        return p.Reconstruction.scatter(0, index, found);
    }

    /// <summary>
    /// Alg. 2 for a defense-aware attack, by BPDA (Athalye et al., 2018, "backward pass differentiable approximation"):
    /// the forward value is <see cref="Purify"/>'s — G(F(x)) or, for searched images, G(z_L) — but the gradient with
    /// respect to the images is that of G(F(x)): the search z₀ ↦ z_L is treated as the identity, a straight-through
    /// estimator z = F(x) + sg(z_L − F(x)) with sg stopping the gradient. [N, C, H, W], differentiable when grad mode is on.
    /// </summary>
    public Tensor PurifyStraightThrough(Tensor images)
    {
        CheckImages(images);
        using var scope = torch.NewDisposeScope();
        Tensor codes;
        using (torch.no_grad())
        {
            var p = Plan(images.detach(), unrolled: false);
            codes = p.Rows is null ? p.Codes : p.Codes.scatter(0, p.Rows.view(-1, 1).expand(p.Rows.size(0), p.Codes.size(1)), p.Found!);
        }
        var start = encoder.forward(images);
        var z = start + (codes - start).detach();
        return generator.forward(z).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Alg. 2 up to the decoding of the searched codes; every tensor lives in the caller's dispose scope, without gradient
    /// history — or, with <c>unrolled</c> and grad mode on, with it (F, G and the search's steps in the graph; the scores and
    /// flags are constants).
    /// </summary>
    /// <param name="Codes">F(x) for every image.</param>
    /// <param name="Reconstruction">G(F(x)) for every image.</param>
    /// <param name="Rows">The rows searched (int64), or null when none was.</param>
    /// <param name="Found">z_L for those rows, or null.</param>
    /// <param name="Scores">The detection scores.</param>
    /// <param name="Flags">The detector's flags.</param>
    private sealed record PurificationPlan(Tensor Codes, Tensor Reconstruction, Tensor? Rows, Tensor? Found, float[] Scores, bool[] Flags);

    private PurificationPlan Plan(Tensor images, bool unrolled)
    {
        long n = images.size(0);
        var scores = new float[n];
        var codes = encoder.forward(images);
        var reconstruction = generator.forward(codes);
        using (torch.no_grad())
            AeGanPurification.ReconstructionError(reconstruction, images, Options.Distance).to(ScalarType.Float32).cpu().data<float>().CopyTo(scores);
        var flags = DefenseInference.Flags(scores, Threshold);
        var searched = Options.SearchPolicy switch
        {
            AeGanSearchPolicy.Always => Enumerable.Range(0, (int)n).ToArray(),
            AeGanSearchPolicy.Never => [],
            _ => Enumerable.Range(0, (int)n).Where(i => flags[i]).ToArray(),
        };
        if (searched.Length == 0 || Options.SearchSteps == 0) return new(codes, reconstruction, null, null, scores, flags);

        var rows = torch.tensor(Array.ConvertAll(searched, i => (long)i), [searched.Length], device: images.device);
        var found = AeGanPurification.SearchLatent(generator, codes.index_select(0, rows), images.index_select(0, rows), Options.SearchSteps,
                                                   Options.SearchStepSize, Options.SearchHalvingInterval, unrolled: unrolled);
        return new(codes, reconstruction, rows, found, scores, flags);
    }

    private void CheckImages(Tensor images)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        DefenseColumns.CheckImageTensor(images, InputShape, "the shape AE-GAN was trained on");
        if (!images.device.IsSame(Device))
            throw new ArgumentException($"The images are on {images.device} but the purifier is on {Device}.", nameof(images));
        // The networks are float32 as fitted or loaded; a caller that converts Encoder and Generator (e.g. to float64 for a
        // gradient check) passes images of their dtype.
        var dtype = encoder.parameters().First().dtype;
        if (images.dtype != dtype)
            throw new ArgumentException($"Expected {dtype.ToString().ToLowerInvariant()} images (the networks' dtype); found {images.dtype}.", nameof(images));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        if (!images.isfinite().all().item<bool>())
            throw new ArgumentException("The images hold NaN or infinite values; AE-GAN purifies finite pixel values in [0, 1].", nameof(images));
    }

    /// <summary>Alg. 2 on consecutive images (row-major pixels) in chunks on <see cref="Device"/>: [purified, scores, flags].</summary>
    internal Array[] PurifyAll(float[] pixels, int rows, long firstRow)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var shape = InputShape;
        DefenseColumns.CheckFinite(pixels, shape.Size, firstRow, Options.ImageColumnName);

        var purified = new float[pixels.Length];
        var scores = new float[rows];
        var flags = new bool[rows];
        foreach (var (start, count) in DefenseInference.Chunks(rows))
        {
            using var scope = torch.NewDisposeScope();
            var (output, chunkScores, chunkFlags) = PurifyWithScores(DefenseInference.Images(pixels, shape, start, count, Device));
            output.cpu().data<float>().CopyTo(purified.AsSpan(start * shape.Size, count * shape.Size));
            chunkScores.CopyTo(scores, start);
            chunkFlags.CopyTo(flags, start);
        }
        return [purified, scores, flags];
    }

    /// <summary>The columns added: the purified image (the input's type, Single [C, H, W]), the score (Single) and the flag (Boolean).</summary>
    internal static DataViewSchema.DetachedColumn[] AddedColumns(AeGanOptions options, ImageShape shape) =>
    [
        new(options.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, shape.Channels, shape.Height, shape.Width)),
        new(options.ScoreColumnName, NumberDataViewType.Single),
        new(options.FlagColumnName, BooleanDataViewType.Instance),
    ];

    private protected override IRowBatchMapper Mapper(DataViewSchema inputSchema)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var shape = ImageColumns.Check(inputSchema, Options.ImageColumnName, InputShape, "the image AE-GAN purifies", "the shape AE-GAN was trained on");
        AeGanEstimator.CheckGeometry(shape, Options.ImageColumnName);
        return new BatchMapper(this);
    }

    private sealed class BatchMapper(AeGanTransformer owner) : IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.Options.ImageColumnName];
        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } = AddedColumns(owner.Options, owner.InputShape);
        public int BatchSize => DefenseInference.ChunkSize;
        public IReadOnlyList<Array> MapBatch(RowBatch batch) => owner.PurifyAll(batch.Get<float>(owner.Options.ImageColumnName), batch.RowCount, batch.FirstPosition);
    }

    static ComponentFormat ILoadableComponent<AeGanTransformer>.Format { get; } = new("MLDAEGAN", 1, LoaderSignature, "AE-GAN purifier");

    private protected override void SaveModel(ModelSaveContext context)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ComponentWriter.Write<AeGanTransformer>(context, writer =>
        {
            writer.WriteOptions(Options);
            writer.WriteJson(CalibrationFileName, Calibration);
            writer.WriteModule(encoder, EncoderFileName);
            writer.WriteModule(generator, GeneratorFileName);
        });
    }

    static AeGanTransformer ILoadableComponent<AeGanTransformer>.Load(ComponentReader reader)
    {
        var options = reader.ReadOptions<AeGanOptions>();
        var calibration = reader.ReadJson<AeGanCalibration>(CalibrationFileName);
        var shape = DefenseModelFiles.Check(options, calibration, AeGanEstimator.CheckOptions,
            (_, _, s) => { if (AeGanGeometry.Check(s) is { } problem) throw new ArgumentException(problem + "."); });
        var device = reader.Device;
        using var networks = new PendingNetworks();
        var (encoder, generator) = CreateNetworks(networks, options, shape, device);
        reader.ReadModule(encoder, EncoderFileName);
        reader.ReadModule(generator, GeneratorFileName);
        return networks.HandOver(new AeGanTransformer(options, calibration, encoder, generator, device));
    }

    /// <summary>
    /// This purifier with other search settings — what Alg. 2 does at inference and training does not depend on: the policy,
    /// L, η and its halving interval (null keeps the current one). The returned transformer takes over the networks and this
    /// one is disposed; the threshold and everything else stay. For tuning the search of a trained (or loaded) purifier
    /// without training it again.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is out of range (as <see cref="AeGanOptions"/> documents).</exception>
    public AeGanTransformer WithSearch(AeGanSearchPolicy? policy = null, int? steps = null, double? stepSize = null, int? halvingInterval = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var options = Options with
        {
            SearchPolicy = policy ?? Options.SearchPolicy,
            SearchSteps = steps ?? Options.SearchSteps,
            SearchStepSize = stepSize ?? Options.SearchStepSize,
            SearchHalvingInterval = halvingInterval ?? Options.SearchHalvingInterval,
        };
        AeGanEstimator.CheckOptions(options);
        disposed = true;
        return new AeGanTransformer(options, Calibration, encoder, generator, Device);
    }

    /// <summary>Frees the networks.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        encoder.Dispose();
        generator.Dispose();
    }
}
