using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Attacks;
using MLDefense.Benchmarks;
using MLDefense.Data;
using MLDefense.Defenses;
using MLDefense.Evaluation;
using MLDefense.Reporting;
using MLDefense.Classifiers;

namespace MLDefense.Jobs;

/// <summary>
/// The main job (issue 8): on Fashion-MNIST, train classifier A; fit the defended pipeline SAEC → AE-GAN+sr purifier →
/// classifier A (on the purified image) → MIAED; attack the test slice with FGSM and PGD; measure what the pipeline does
/// on clean and adversarial images; save it to one zip, reload it, check the reloaded model agrees, and predict a few
/// images one by one with their flags.
/// </summary>
/// <remarks>
/// <para>The classifier is trained first, on the clean images, and then placed after the purifier with
/// <see cref="ImageClassifierTransformer.AsEstimator"/>: AE-GAN (Sec. 3.4) purifies the inputs of an already trained
/// classifier; training the classifier on reconstructions would be another defense.</para>
/// <para>MIAED reads the purified image, the one the classifier classified: it asks whether the classifier's decision
/// agrees with what the image's latent code says (Gao et al., Sec. 3.2).</para>
/// <para>The attacks are computed on classifier A alone (the papers' "white-box on the classifier" / oblivious setting):
/// the attacker knows the classifier, not the defenses. Defense-aware attacks are measured by <c>bench aegan</c> (BPDA).</para>
/// </remarks>
public static class DefendedPipelineJob
{
    /// <summary>The stages, in order, as <see cref="DefendedPipelineJobProgress.Stage"/> names them.</summary>
    public static IReadOnlyList<string> Stages { get; } =
        ["load data", "train classifier A", "fit SAEC", "fit AE-GAN+sr", "fit MIAED", "attack FGSM", "attack PGD", "evaluate", "save and reload"];

    /// <summary>The pipeline's output columns the job reads.</summary>
    public static class Columns
    {
        /// <summary>The purifier's output image.</summary>
        public const string Purified = "Purified";
        /// <summary>Detector scores and flags, in pipeline order.</summary>
        public static readonly (string Name, string Score, string Flag)[] Detectors =
            [("SAEC", "SaecScore", "SaecFlag"), ("AE-GAN+sr", "AeGanScore", "AeGanFlag"), ("MIAED", "MiaedScore", "MiaedFlag")];
    }

    /// <summary>Runs the job (see the class summary).</summary>
    /// <param name="options">What to run; <see cref="DefendedPipelineJobOptions.Default"/> is about 15 minutes on two cores.</param>
    /// <param name="progress">Told at every stage, epoch and batch, on the calling thread.</param>
    /// <param name="cancellationToken">Stops the job (throws <see cref="OperationCanceledException"/>); no zip is left behind.</param>
    /// <exception cref="ArgumentException">The options are inconsistent (the message says which).</exception>
    public static DefendedPipelineJobResult Run(DefendedPipelineJobOptions options, IProgress<DefendedPipelineJobProgress>? progress = null,
                                                CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Check();
        var clock = Stopwatch.StartNew();
        void Report(int stage, string detail, double fraction, TimeSpan? remaining = null) =>
            progress?.Report(new DefendedPipelineJobProgress(stage, Stages[stage], detail, Math.Clamp(fraction, 0, 1), remaining));

        Report(0, "", 0);
        var ml = Runtime.CreateMLContext(options.Seed, options.Device);
        var classNames = KnownDatasets.Resolve(options.Dataset, options.DataDirectory).ClassNames;
        IDataView Slice(IDataView data, int? count) => count is int n ? ml.Data.TakeRows(data, n) : data;
        var train = Slice(ml.Data.LoadKnownDataset(options.Dataset, train: true, options.DataDirectory), options.TrainImages);
        var test = Slice(ml.Data.LoadKnownDataset(options.Dataset, train: false, options.DataDirectory), options.TestImages);
        cancellationToken.ThrowIfCancellationRequested();
        Report(0, $"{train.GetRowCount() ?? options.TrainImages} training and {test.GetRowCount() ?? options.TestImages} test images", 1);

        var request = new ClassifierTrainingRequest
        {
            Dataset = options.Dataset, Architecture = ClassifierArchitecture.DefenseGanA, Epochs = options.ClassifierEpochs, Seed = options.Seed,
        };
        var (classifier, classifierResult) = ClassifierTraining.Run(ml, request, train, test,
            new InlineProgress<ClassifierTrainingStatus>(s => Report(1, s.Training?.ToString() ?? s.Stage.ToString().ToLowerInvariant(), s.Fraction,
                                                                      s.Training?.EstimatedRemaining)), cancellationToken);
        using (classifier)
        {
            // One ML.NET pipeline: SAEC and AE-GAN+sr read the image, the trained classifier A the purified one, MIAED both.
            var pipeline = ml.Transforms.Defenses.Saec(new SaecOptions { Seed = options.Seed })
                .Append(ml.Transforms.Defenses.AeGanPurifier(new AeGanOptions
                {
                    OutputColumnName = Columns.Purified, Epochs = options.AeGanEpochs ?? new AeGanOptions().Epochs, Seed = options.Seed,
                    CancellationToken = cancellationToken,
                    Progress = new InlineProgress<AeGanTrainingProgress>(p =>
                        Report(3, p.ToString(), Fraction(p.Epoch, p.Epochs, p.Batch, p.BatchesPerEpoch), p.EstimatedRemaining)),
                }))
                .Append(classifier.AsEstimator(inputColumnName: Columns.Purified))
                .Append(ml.Transforms.Defenses.Miaed(new MiaedOptions
                {
                    ImageColumnName = Columns.Purified,
                    Epochs = options.MiaedEpochs ?? new MiaedOptions().Epochs,
                    SimpleNetworkEpochs = options.MiaedSimpleNetworkEpochs ?? new MiaedOptions().SimpleNetworkEpochs,
                    Seed = options.Seed, CancellationToken = cancellationToken,
                    Progress = new InlineProgress<MiaedTrainingProgress>(p =>
                        Report(4, p.ToString(), Fraction(p.Epoch, p.Epochs, p.Batch, p.BatchesPerEpoch), p.EstimatedRemaining)),
                }));
            Report(2, "calibrating on the training images and uniform noise", 0);
            var fitClock = Stopwatch.StartNew();
            using var model = pipeline.Fit(train);
            double fitSeconds = fitClock.Elapsed.TotalSeconds;
            cancellationToken.ThrowIfCancellationRequested();

            using var images = LabelledImages.Load(test, classifier.Device);
            torch.manual_seed((long)options.Seed);
            // The budget sweep: FGSM and PGD at every ε, so the table shows where the defenses work and where not.
            var attacks = options.Epsilons.Order().SelectMany(epsilon => new (string Name, double Epsilon, int Stage, IAdversarialAttack Attack)[]
            {
                ("FGSM", epsilon, 5, new FastGradientAttack(new FastGradientOptions { Epsilon = epsilon })),
                ("PGD", epsilon, 6, new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = epsilon, Iterations = options.PgdIterations })),
            }).ToArray();
            var adversarial = new List<Tensor>();
            try
            {
                foreach (var (name, epsilon, stage, attack) in attacks)
                    adversarial.Add(Attack(classifier, attack, images, (done, total) => Report(stage, $"ε {epsilon}: {done}/{total} images", (double)done / total), cancellationToken));

                Report(7, "clean images", 0);
                var sets = new List<(string Name, double? Epsilon, IDataView View, Tensor Images)> { ("clean", null, test, images.Images) };
                for (int a = 0; a < attacks.Length; a++)
                    sets.Add((attacks[a].Name, attacks[a].Epsilon, WithImages(images, adversarial[a], classNames), adversarial[a]));
                // The grid and the single predictions show the largest budget's FGSM and PGD sets.
                int largestFgsm = sets.FindLastIndex(set => set.Name == "FGSM"), largestPgd = sets.FindLastIndex(set => set.Name == "PGD");
                var outputs = new List<PipelineOutputs>();
                foreach (var set in sets)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Report(7, $"{set.Name} images", outputs.Count / (double)sets.Count);
                    outputs.Add(PipelineOutputs.Read(model.Transform(set.View), ProtocolSupport.Predict(classifier, set.Images)));
                }
                var results = sets.Select((s, i) => Summarise(s.Name, s.Epsilon, outputs[i], i == 0 ? null : outputs[0])).ToList();
                Report(7, "done", 1);

                string? gridPath = null;
                IReadOnlyList<string> gridRows = [];
                if (options.ImageGridPath is { } requestedGrid)
                {
                    const int perRow = 10;
                    int[] shown = [largestFgsm, largestPgd];
                    gridRows = ["clean", .. shown.Select(i => sets[i].Name), .. shown.Select(i => $"{sets[i].Name} purified")];
                    var rows = new List<IReadOnlyList<float[]>> { FirstImages(test, "Image", perRow) };
                    foreach (int i in shown) rows.Add(FirstImages(sets[i].View, "Image", perRow));
                    foreach (int i in shown) rows.Add(FirstImages(model.Transform(sets[i].View), Columns.Purified, perRow));
                    gridPath = Path.GetFullPath(requestedGrid);
                    ImageGrid.SavePng(rows, images.Shape, gridPath);
                }

                Report(8, "saving", 0);
                string path = Path.GetFullPath(options.OutputPath);
                ml.Model.Save(model, train.Schema, path);
                Report(8, "reloading", 0.3);
                // As a user's app would: a new context and ML.NET's Model.Load, nothing else.
                var reloaded = Runtime.CreateMLContext(options.Seed, options.Device).Model.Load(path, out _);
                using var reloadedDisposal = reloaded as IDisposable;
                var reloadedOutputs = PipelineOutputs.Read(reloaded.Transform(test), outputs[0].Undefended);
                int agreeing = outputs[0].AgreeingRows(reloadedOutputs);
                Report(8, "predicting single images", 0.7);
                var examples = PredictExamples(ml, reloaded, sets[0].View, sets[largestPgd].View, options.PredictionExamples, classNames);
                Report(8, "done", 1);

                return new DefendedPipelineJobResult(options, Runtime.Threads, classifier.Device.ToString(), Runtime.TorchVersion, classifierResult,
                                                     fitSeconds, results, path, new FileInfo(path).Length, agreeing, outputs[0].Rows, examples,
                                                     gridPath, gridRows, clock.Elapsed.TotalSeconds);
            }
            finally
            {
                foreach (var t in adversarial) t.Dispose();
            }
        }
    }

    private static double Fraction(int epoch, int epochs, int batch, int batchesPerEpoch) =>
        epochs * batchesPerEpoch == 0 ? 0 : ((epoch - 1) * (double)batchesPerEpoch + batch) / ((double)epochs * batchesPerEpoch);

    /// <summary>Adversarial versions of every image, computed batch by batch on the classifier's device.</summary>
    private static Tensor Attack(IDifferentiableClassifier classifier, IAdversarialAttack attack, LabelledImages data, Action<int, int> report,
                                 CancellationToken cancellationToken)
    {
        var parts = new List<Tensor>();
        try
        {
            foreach (var (start, length) in ProtocolSupport.Batches(data.Count, ProtocolSupport.DefaultBatchSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                var x = data.Images.narrow(0, start, length);
                var y = data.Labels.narrow(0, start, length);
                parts.Add(ProtocolSupport.Attack(attack, classifier, x, y, cancellationToken).detach().DetachFromDisposeScope());
                report(start + length, data.Count);
            }
            return torch.cat(parts, 0);
        }
        finally
        {
            foreach (var p in parts) p.Dispose();
        }
    }

    /// <summary>The attacked images as a data view like the test set's: Image and the same Label key (class names as key values).</summary>
    private static IDataView WithImages(LabelledImages clean, Tensor attacked, IReadOnlyList<string> classNames)
    {
        using var cpu = attacked.cpu().contiguous();
        var labels = clean.Labels.cpu().data<long>().ToArray();
        return ImageRecordsDataView.FromPixels(clean.Shape, cpu.data<float>().ToArray(), Array.ConvertAll(labels, l => (int)l), classNames);
    }

    private static float[][] FirstImages(IDataView view, string column, int count)
    {
        var batch = DataViewBatches.Read(view, [column], count).First();
        var flat = batch.Get<float>(column);
        int size = flat.Length / batch.RowCount;
        return Enumerable.Range(0, batch.RowCount).Select(i => flat.AsSpan(i * size, size).ToArray()).ToArray();
    }

    private static DefendedSetResult Summarise(string set, double? epsilon, PipelineOutputs o, PipelineOutputs? clean)
    {
        var anyFlag = o.AnyFlag();
        double handled;
        if (clean is null)
        {
            int good = 0;
            for (int i = 0; i < o.Rows; i++)
                if (!anyFlag[i] && o.Defended[i] == o.Labels[i]) good++;
            handled = (double)good / o.Rows;
        }
        else
        {
            handled = RobustnessMetrics.RobustClassifierAccuracy(anyFlag, o.Defended, o.Labels).Accuracy;
        }
        double? Auc(int d) => clean is null ? null : RocCurve.AucOf(clean.Scores[d], o.Scores[d]);
        return new DefendedSetResult(set, epsilon, o.Rows, RobustnessMetrics.Accuracy(o.Undefended, o.Labels), RobustnessMetrics.Accuracy(o.Defended, o.Labels),
                                     o.FlagRate(0), o.FlagRate(1), o.FlagRate(2), anyFlag.Count(f => f) / (double)o.Rows, handled, Auc(0), Auc(1), Auc(2));
    }

    private static IReadOnlyList<DefendedPredictionExample> PredictExamples(MLContext ml, ITransformer model, IDataView clean, IDataView attacked,
                                                                           int count, IReadOnlyList<string> classNames)
    {
        if (count == 0) return [];
        var engine = ml.Model.CreatePredictionEngine<DefendedImage, DefendedPrediction>(model);
        var examples = new List<DefendedPredictionExample>();
        foreach (var (set, view) in new[] { ("clean", clean), ("PGD", attacked) })
        {
            int index = 0;
            foreach (var row in ml.Data.CreateEnumerable<DefendedImage>(view, reuseRowObject: false, ignoreMissingColumns: true).Take(count))
            {
                var p = engine.Predict(row);
                var flags = new List<string>();
                if (p.SaecFlag) flags.Add("SAEC");
                if (p.AeGanFlag) flags.Add("AE-GAN+sr");
                if (p.MiaedFlag) flags.Add("MIAED");
                // Keys count from 1 (0 is ML.NET's missing value).
                int predicted = (int)p.PredictedLabel - 1;
                examples.Add(new DefendedPredictionExample(set, index++, classNames[(int)row.Label - 1], classNames[predicted], p.Score[predicted], flags));
            }
        }
        return examples;
    }

    /// <summary>An input row of the defended pipeline for the prediction engine.</summary>
    public sealed class DefendedImage
    {
        /// <summary>The image, 1×28×28 in [0, 1].</summary>
        [VectorType(1, 28, 28)] public float[] Image { get; set; } = [];

        /// <summary>Its true class, a key 1..10 (not read by the pipeline).</summary>
        [KeyType(10)] public uint Label { get; set; }
    }

    /// <summary>What the defended pipeline says about one image.</summary>
    public sealed class DefendedPrediction
    {
        /// <summary>Classifier A's probabilities on the purified image.</summary>
        [VectorType(10)] public float[] Score { get; set; } = [];
        /// <summary>The predicted class, a key 1..10 (the class names are its key values).</summary>
        [KeyType(10)] public uint PredictedLabel { get; set; }
        /// <summary>Whether SAEC flagged the input.</summary>
        public bool SaecFlag { get; set; }
        /// <summary>Whether AE-GAN+sr's reconstruction error flagged it (and the latent search purified it).</summary>
        public bool AeGanFlag { get; set; }
        /// <summary>Whether MIAED flagged the classifier's decision.</summary>
        public bool MiaedFlag { get; set; }
    }
}
