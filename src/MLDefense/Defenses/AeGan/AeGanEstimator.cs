using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLDefense.Data;
using MLDefense.Evaluation;

namespace MLDefense.Defenses;

/// <summary>
/// AE-GAN+sr, the purifier with encoder-assisted search in the latent coding space ("Defense against adversarial
/// examples by encoder-assisted search in the latent coding space", Sec. 3.3–3.4, Eq. 5, Alg. 1–2, Tables 4 and 6,
/// App. F): an autoencoder whose decoder is also a GAN generator, so that its outputs stay on the image manifold; a
/// reconstruction-error detector; and, for flagged images, a short gradient search in the latent space started at the
/// encoder's code. Fit needs clean images only.
/// </summary>
/// <remarks>
/// <para><b>Networks</b> (Table 6, <see cref="AeGanEncoder"/>, <see cref="AeGanGenerator"/>, <see cref="AeGanDiscriminator"/>):
/// encoder F: x ↦ z ∈ (−1, 1)^k; decoder/generator G: z ↦ x̂ ∈ (0, 1)^(C×H×W); discriminator D: x ↦ P(real). Supported
/// shapes are listed on <see cref="AeGanGeometry"/>.</para>
/// <para><b>Training</b> (Eq. 5, Alg. 1), per minibatch x of the clean training images:</para>
/// <list type="number">
/// <item><description>D step: max_D log D(x) + log(1 − D(G(z))), z ~ U[−1, 1]^k — the uniform prior matches the range of
/// F's tanh, so that the codes F produces and the codes the GAN term trains G on cover the same cube.</description></item>
/// <item><description>F and G step: min_{F,G} −log D(G(z)) + λ·(1/N)·Σ_i ‖G(F(x_i + η_i)) − x_i‖², with η ~ N(0, σ²) per
/// value and σ ~ U[0, b] drawn once per batch (the noise regularisation "+r"), λ =
/// <see cref="AeGanOptions.ReconstructionWeight"/>, b = <see cref="AeGanOptions.NoiseBound"/>. Departure: the generator
/// uses the non-saturating loss −log D(G(z)) instead of Eq. 5's log(1 − D(G(z))), the usual practice that the text does
/// not rule out, because the latter gives G vanishing gradients while D wins early in training.</description></item>
/// </list>
/// <para>Adam with learning rate 2e-4, β = (0.5, 0.999), batch 100, 60 epochs, k = 128 (Table 4; β₁ is our choice, see
/// <see cref="AeGanOptions.AdamBeta1"/>). Layers keep the engine's default initialisation (PyTorch's). Progress goes to
/// <see cref="AeGanOptions.Progress"/> and the context's log; <see cref="AeGanOptions.CancellationToken"/> stops training
/// with <see cref="OperationCanceledException"/>, freeing every network and tensor built so far; with
/// <see cref="AeGanOptions.CheckpointPath"/> the state after the last completed epoch stays in that file and the next Fit
/// resumes from it, ending bit for bit where an uninterrupted Fit would.</para>
/// <para><b>Batch-norm statistics</b>: after training, the running statistics of F's and G's batch normalisation are
/// estimated again on the path inference takes, G(F(x)) over the clean training images, as an equal-weight average of
/// their batches (PyTorch's <c>swa_utils.update_bn</c>). Why: during training G's statistics mix two populations, the
/// prior's codes of the GAN term and F's codes of the reconstruction term, and F's see noisy images, so in evaluation
/// mode G(F(x)) of a clean image is normalised with statistics of neither. The paper does not say how it handles this.
/// Measured on MNIST (purifier trained 10 epochs at w = 32 on all 60 000 images, classifier A 1 epoch, 200 test images):
/// without the re-estimate, A's accuracy on G(F(x)) of clean images was 0.670 (0.985 on the images themselves), while
/// the same networks trained on 8 000 images kept 0.940. With the re-estimate, the 8 000-image purifier's G(F(x)) moved
/// from 0.940 to 0.960 on clean images (mean ‖G(F(x)) − x‖² 8.7 → 5.4) and from 0.275 to 0.345 on FGSM ε = 0.3 AEs, and
/// the 60 000-image purifier's from 0.670 to 0.975 on clean images (‖G(F(x)) − x‖² 28.0 → 3.1) and from 0.15 to 0.35 on
/// FGSM.</para>
/// <para><b>Calibration</b>: then the score s(x) = d(G(F(x)), x) of every clean training image (d =
/// <see cref="AeGanOptions.Distance"/>: per-value mean absolute or squared error) sets the threshold τ with
/// <see cref="ThresholdCalibration.ForFalsePositiveRate"/> at <see cref="AeGanOptions.TargetFalsePositiveRate"/>.</para>
/// <para><b>Inference</b> (Sec. 3.4, Alg. 2), batched: flag = s(x) &gt; τ (<see cref="ThresholdCalibration.IsFlagged"/>).
/// Unflagged → G(F(x)). Flagged → z₀ = F(x), z_{t+1} = clip_[−1,1](z_t − η_t ∇_z ‖G(z_t) − x‖²) with η_t = η·2^(−⌊t/5⌋), for
/// t &lt; L (L = 15, η = 0.1: see <see cref="AeGanOptions.SearchStepSize"/> for how η was chosen), output G(z_L). Departure: z is kept in [−1, 1]^k, the support of the prior and of F, so the search
/// cannot walk off the region G was trained on. <see cref="AeGanOptions.SearchPolicy"/> can force or skip the search.</para>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="AeGanOptions.ImageColumnName"/> (input)</term><description>float vector [C, H, W] with an image shape, values in [0, 1] (Fit checks the range; Transform requires finite values)</description></item>
/// <item><term><see cref="AeGanOptions.OutputColumnName"/> (output)</term><description>float vector [C, H, W] with the same image shape: the purified image, in (0, 1)</description></item>
/// <item><term><see cref="AeGanOptions.ScoreColumnName"/> (output)</term><description>float (Single) ≥ 0: the reconstruction error d(G(F(x)), x), higher = more adversarial</description></item>
/// <item><term><see cref="AeGanOptions.FlagColumnName"/> (output)</term><description>Boolean: score &gt; the calibrated threshold</description></item>
/// </list>
/// <para>Bad input: a missing column, a column that is not an image, or an unsupported shape fail in GetOutputSchema and
/// Fit; values outside [0, 1] or NaN fail in Fit, naming the column and row; fewer than
/// <see cref="MinimumTrainingImages"/> images fail in Fit.</para>
/// </remarks>
public sealed class AeGanEstimator : DefenseEstimator<AeGanOptions, AeGanTransformer>
{
    /// <summary>Below this many training images Fit throws: the threshold would rest on a handful of scores.</summary>
    public const int MinimumTrainingImages = 20;

    internal const string LogSource = "AE-GAN";

    /// <summary>Creates the estimator in an ML.NET environment (the catalog's <c>ml.Transforms.Defenses.AeGanPurifier</c> methods call this).</summary>
    /// <exception cref="ArgumentException">An option is out of range (the message names it).</exception>
    public AeGanEstimator(IHostEnvironment environment, AeGanOptions options) : base(environment, LogSource, options, CheckOptions)
    {
    }

    internal static void CheckOptions(AeGanOptions o)
    {
        var rules = new OptionRules(nameof(AeGanOptions));
        rules.Require(o.LatentDimension >= 1, nameof(o.LatentDimension), o.LatentDimension, "must be at least 1");
        rules.Require(o.BaseChannels >= 1, nameof(o.BaseChannels), o.BaseChannels, "must be at least 1");
        rules.Require(o.Epochs >= 1, nameof(o.Epochs), o.Epochs, "must be at least 1");
        rules.Require(o.BatchSize >= 2, nameof(o.BatchSize), o.BatchSize, "must be at least 2 (batch normalisation needs two images)");
        rules.Require(o.LearningRate > 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), o.LearningRate, "must be a positive number");
        rules.Require(o.AdamBeta1 is >= 0 and < 1, nameof(o.AdamBeta1), o.AdamBeta1, "must be in [0, 1)");
        rules.Require(o.ReconstructionWeight >= 0 && double.IsFinite(o.ReconstructionWeight), nameof(o.ReconstructionWeight), o.ReconstructionWeight, "must be a finite number ≥ 0");
        rules.Require(o.NoiseBound >= 0 && double.IsFinite(o.NoiseBound), nameof(o.NoiseBound), o.NoiseBound, "must be a finite number ≥ 0");
        rules.Require(o.TargetFalsePositiveRate is >= 0 and < 1, nameof(o.TargetFalsePositiveRate), o.TargetFalsePositiveRate, "(a target false-positive rate) must be in [0, 1)");
        rules.Require(Enum.IsDefined(o.Distance), nameof(o.Distance), o.Distance, "must be a known distance");
        rules.Require(Enum.IsDefined(o.SearchPolicy), nameof(o.SearchPolicy), o.SearchPolicy, "must be a known policy");
        rules.Require(o.SearchSteps >= 0, nameof(o.SearchSteps), o.SearchSteps, "must be ≥ 0");
        rules.Require(o.SearchStepSize >= 0 && double.IsFinite(o.SearchStepSize), nameof(o.SearchStepSize), o.SearchStepSize, "must be a finite number ≥ 0");
        rules.Require(o.CheckpointPath is null || !string.IsNullOrWhiteSpace(o.CheckpointPath), nameof(o.CheckpointPath), o.CheckpointPath, "must be a file path (or null for no checkpoint)");
        rules.Require(!o.KeepCheckpoint || o.CheckpointPath is not null, nameof(o.KeepCheckpoint), o.KeepCheckpoint, "needs a CheckpointPath to keep");
        rules.Require(o.SearchHalvingInterval >= 1, nameof(o.SearchHalvingInterval), o.SearchHalvingInterval, "must be at least 1");
        OptionRules.RequireColumnNames("AE-GAN", [o.ImageColumnName],
            ("purified", o.OutputColumnName), ("score", o.ScoreColumnName), ("flag", o.FlagColumnName));
    }

    /// <summary>Checks the data, trains F, G and D (Alg. 1), and calibrates the reconstruction-error threshold.</summary>
    /// <exception cref="ArgumentException">Bad input (the message names the column and, for values, the row).</exception>
    /// <exception cref="OperationCanceledException">The options' token was cancelled; nothing is left allocated.</exception>
    public override AeGanTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        string column = Options.ImageColumnName;
        var shape = CheckGeometry(ImageColumns.Check(input.Schema, column, null, "the image AE-GAN purifies", ""), column);
        var token = Options.CancellationToken;
        token.ThrowIfCancellationRequested();
        var batches = DataViewBatches.Read(input, [column], 8192, token).Select(b => (b.Get<float>(column), b.FirstPosition));
        return FitCore(shape, Gather(batches, shape), token);
    }

    /// <summary>The columns Fit's transformer adds (a schema shape has no dimensions: the image's shape is checked by Fit and Transform).</summary>
    /// <exception cref="ArgumentException">The image column is missing or not a Single vector (the message names it).</exception>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ImageColumns.Check(inputSchema, Options.ImageColumnName, "the image AE-GAN purifies");
        return MLNet.SchemaShapes.Append(inputSchema, AeGanTransformer.AddedColumns(Options, new ImageShape(1, 1, 1)).Select(c => MLNet.SchemaShapes.Of(c.Name, c.Type)));
    }

    private AeGanTransformer FitCore(ImageShape shape, float[] pixels, CancellationToken token)
    {
        int count = pixels.Length / shape.Size;
        if (count < MinimumTrainingImages)
            throw new ArgumentException($"Column '{Options.ImageColumnName}': AE-GAN trains and calibrates on the clean images and needs at least " +
                $"{MinimumTrainingImages} of them; found {count}.");

        int seed = Options.Seed ?? Fitting.NextSeed();
        var device = Fitting.Device;
        torch.manual_seed((uint)seed);
        using var networks = new PendingNetworks();
        var (encoder, generator) = AeGanTransformer.CreateNetworks(networks, Options, shape, device);
        using var images = torch.tensor(pixels, [count, shape.Channels, shape.Height, shape.Width], device: device);
        var checkpoint = TrainingCheckpoint.Create(Options.CheckpointPath, "AE-GAN", shape, pixels, count, seed, device, CheckpointSettings());
        using (var discriminator = new AeGanDiscriminator(shape, Options.BaseChannels))
        {
            discriminator.to(device);
            Train(encoder, generator, discriminator, images, seed, device, checkpoint, token);
        }
        RecomputeBatchNormStatistics(encoder, generator, images, token);
        encoder.eval();
        generator.eval();
        var scores = CleanScores(encoder, generator, images, token);
        float threshold = (float)ThresholdCalibration.ForFalsePositiveRate(scores, Options.TargetFalsePositiveRate);
        var sorted = scores.ToArray();
        Array.Sort(sorted);
        var calibration = new AeGanCalibration
        {
            Channels = shape.Channels, Height = shape.Height, Width = shape.Width,
            Threshold = threshold,
            TrainingImageCount = count,
            TrainingFalsePositiveRate = ThresholdCalibration.FlaggedFraction(scores, threshold),
            CleanMedianScore = sorted[sorted.Length / 2],
        };
        Fitting.Log(LogSource, $"calibrated on {count} clean images: threshold {threshold:G5} ({Options.Distance}), " +
            $"training false-positive rate {calibration.TrainingFalsePositiveRate:P2} (target {Options.TargetFalsePositiveRate:P2}), median score {calibration.CleanMedianScore:G5}");
        var fitted = networks.HandOver(new AeGanTransformer(Options with { Progress = null, CancellationToken = default, CheckpointPath = null, KeepCheckpoint = false },
                                                            calibration, encoder, generator, device));
        if (!Options.KeepCheckpoint) checkpoint?.Delete();
        return fitted;
    }

    /// <summary>The settings that shape training, which a checkpoint must have been written with to be resumed.</summary>
    private JsonObject CheckpointSettings() => new()
    {
        ["latent_dimension"] = Options.LatentDimension,
        ["base_channels"] = Options.BaseChannels,
        ["batch_size"] = Options.BatchSize,
        ["learning_rate"] = Options.LearningRate,
        ["adam_beta1"] = Options.AdamBeta1,
        ["reconstruction_weight"] = Options.ReconstructionWeight,
        ["noise_bound"] = Options.NoiseBound,
    };

    private void Train(AeGanEncoder encoder, AeGanGenerator generator, AeGanDiscriminator discriminator, Tensor images, int seed,
        Device device, TrainingCheckpoint? checkpoint, CancellationToken token)
    {
        long count = images.size(0);
        int batchSize = (int)Math.Min(Options.BatchSize, count);
        // A last batch of one image would break batch normalisation; it is dropped (its images come back in other epochs' orders).
        int batchesPerEpoch = (int)(count / batchSize);
        long totalSteps = (long)batchesPerEpoch * Options.Epochs;
        int reportEvery = Math.Max(1, batchesPerEpoch / 20);
        using var step = new AeGanTrainingStep(encoder, generator, discriminator, Options);
        var noiseLevels = new Random(seed);
        IReadOnlyList<(string, Module)> modules = [("encoder", encoder), ("generator", generator), ("discriminator", discriminator)];
        int resumed = 0;
        if (checkpoint is not null)
        {
            resumed = checkpoint.Restore(modules, step.Optimizers, Options.Epochs);
            // The noise levels come from a .NET generator; the epochs done drew these.
            for (long i = 0; i < (long)resumed * batchesPerEpoch; i++) noiseLevels.NextDouble();
            if (resumed > 0) Fitting.Log(LogSource, $"resumed from the checkpoint {checkpoint.FilePath} after epoch {resumed} of {Options.Epochs}");
        }
        var clock = Stopwatch.StartNew();
        Fitting.Log(LogSource, $"training on {device}: {count} images, {Options.Epochs} epochs of {batchesPerEpoch} batches of {batchSize}, " +
            $"latent {Options.LatentDimension}, width {Options.BaseChannels}, Adam lr {Options.LearningRate} β1 {Options.AdamBeta1}, noise bound {Options.NoiseBound}");

        encoder.train();
        generator.train();
        discriminator.train();
        for (int epoch = resumed + 1; epoch <= Options.Epochs; epoch++)
        {
            using var order = torch.randperm(count, device: device);
            // Sums stay on the device so that a step never waits for the device to report a number.
            using var discriminatorSum = torch.zeros([], ScalarType.Float32, device);
            using var generatorSum = torch.zeros([], ScalarType.Float32, device);
            using var reconstructionSum = torch.zeros([], ScalarType.Float32, device);
            for (int batch = 0; batch < batchesPerEpoch; batch++)
            {
                token.ThrowIfCancellationRequested();
                using (torch.NewDisposeScope())
                {
                    var x = images.index_select(0, order.narrow(0, (long)batch * batchSize, batchSize));
                    var (discriminatorLoss, generatorLoss, reconstructionLoss) = step.Run(x, noiseLevels.NextDouble() * Options.NoiseBound);
                    using (torch.no_grad())
                    {
                        discriminatorSum.add_(discriminatorLoss);
                        generatorSum.add_(generatorLoss);
                        reconstructionSum.add_(reconstructionLoss);
                    }
                }
                int done = batch + 1;
                bool epochEnd = done == batchesPerEpoch;
                if (epochEnd) checkpoint?.Write(epoch, modules, step.Optimizers);
                if (epochEnd || (Options.Progress is not null && done % reportEvery == 0))
                {
                    var report = Report(epoch, done, epochEnd);
                    Options.Progress?.Report(report);
                    if (epochEnd) Fitting.Log(LogSource, report.ToString());
                }
            }

            AeGanTrainingProgress Report(int epochNumber, int batchesDone, bool completed)
            {
                long stepsDone = (long)(epochNumber - 1) * batchesPerEpoch + batchesDone;
                // The estimate rests on this run's steps only: a resumed run did not time the epochs before it.
                long stepsTimed = stepsDone - (long)resumed * batchesPerEpoch;
                var elapsed = clock.Elapsed;
                var remaining = TimeSpan.FromTicks((long)(elapsed.Ticks / (double)stepsTimed * (totalSteps - stepsDone)));
                return new AeGanTrainingProgress(epochNumber, Options.Epochs, batchesDone, batchesPerEpoch,
                    discriminatorSum.item<float>() / batchesDone, generatorSum.item<float>() / batchesDone, reconstructionSum.item<float>() / batchesDone,
                    elapsed, remaining, completed);
            }
        }
    }

    /// <summary>
    /// F's and G's batch-norm running statistics re-estimated from G(F(x)) over <paramref name="images"/> in batches of
    /// <see cref="AeGanOptions.BatchSize"/>, each batch weighted alike (see the class remarks); weights are untouched.
    /// </summary>
    private void RecomputeBatchNormStatistics(AeGanEncoder encoder, AeGanGenerator generator, Tensor images, CancellationToken token)
    {
        var batchNorms = encoder.modules().Concat(generator.modules()).OfType<BatchNorm>().Select(norm => (Norm: norm, norm.momentum)).ToList();
        foreach (var (norm, _) in batchNorms)
        {
            norm.reset_running_stats();
            norm.momentum = null;
        }
        encoder.train();
        generator.train();
        long count = images.size(0);
        int batchSize = (int)Math.Min(Options.BatchSize, count);
        using (torch.no_grad())
        {
            // Whole batches only, as in training: a last batch of one image has no variance.
            for (long start = 0; start + batchSize <= count; start += batchSize)
            {
                token.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                generator.forward(encoder.forward(images.narrow(0, start, batchSize)));
            }
        }
        foreach (var (norm, momentum) in batchNorms) norm.momentum = momentum;
    }

    private float[] CleanScores(AeGanEncoder encoder, AeGanGenerator generator, Tensor images, CancellationToken token)
    {
        long count = images.size(0);
        var scores = new float[count];
        using var _ = torch.no_grad();
        for (long start = 0; start < count; start += DefenseInference.ChunkSize)
        {
            token.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            long n = Math.Min(DefenseInference.ChunkSize, count - start);
            var x = images.narrow(0, start, n);
            AeGanPurification.ReconstructionError(generator.forward(encoder.forward(x)), x, Options.Distance)
                .cpu().data<float>().CopyTo(scores.AsSpan((int)start, (int)n));
        }
        return scores;
    }

    /// <summary>The training images in one array, each checked to lie in [0, 1].</summary>
    private float[] Gather(IEnumerable<(float[] Pixels, long FirstRow)> batches, ImageShape shape)
    {
        string column = Options.ImageColumnName;
        var parts = new List<float[]>();
        long rowsSeen = 0;
        foreach (var (pixels, firstRow) in batches)
        {
            ImageColumns.CheckPixelRange(pixels, shape.Size, firstRow, column);
            parts.Add(pixels);
            rowsSeen += pixels.Length / shape.Size;
        }
        if (rowsSeen * shape.Size > Array.MaxLength)
            throw new ArgumentException($"Column '{column}': {rowsSeen} images of {shape} do not fit in one array; train on a subset.");
        if (parts.Count == 1) return parts[0];
        var all = new float[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var p in parts) { p.CopyTo(all, offset); offset += p.Length; }
        return all;
    }

    /// <summary>Checks that the networks of Table 6 take this image shape; messages name the column.</summary>
    internal static ImageShape CheckGeometry(ImageShape shape, string name)
    {
        if (AeGanGeometry.Check(shape) is { } problem) throw new ArgumentException($"Column '{name}': {problem}.");
        return shape;
    }
}
