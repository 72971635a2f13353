using System.Text.Json;
using System.Text.Json.Nodes;

namespace MLDefense.Reporting;

/// <summary>
/// The charts each benchmark's rows call for (see <see cref="ReportInputs"/> for the row shapes). Rates are drawn on a
/// fixed [0, 1] axis so that charts compare at a glance; budgets start at 0, as in the papers' figures.
/// </summary>
public static class BenchmarkCharts
{
    /// <summary>The most curves drawn in one ROC chart; more are split over several charts.</summary>
    public const int MaxCurvesPerChart = 8;

    private const string TargetColor = "#b3261e";

    /// <summary>
    /// MixDefense Fig. 5–7: per dataset and norm, Acc_Detector against the budget ε with one line per attack, and (when
    /// the rows have it) Acc_RC (Eq. 8) likewise. CIFAR-style L∞ budgets are drawn in 1/255 units
    /// (<see cref="ReportText.InTwoHundredFiftyFifths"/>). A row's <c>"target"</c> is drawn as a reference line.
    /// </summary>
    public static IEnumerable<ReportBlock> MixDefense(IReadOnlyList<JsonObject> rows)
    {
        var in255ths = DatasetsInTwoHundredFiftyFifths(rows);
        foreach (var group in rows.GroupBy(r => (Dataset: ReportInputs.Text(r, "dataset"), Norm: ReportInputs.Text(r, "norm"))))
        {
            bool scaled = group.Key.Norm == "linf" && in255ths.Contains(group.Key.Dataset);
            string where = Join(group.Key.Dataset, NormName(group.Key.Norm));
            string xLabel = scaled ? $"ε ({NormName(group.Key.Norm)}, in 1/255)" : $"ε ({NormName(group.Key.Norm)})";
            var targets = group.Select(r => ReportInputs.Number(r, "target")).Where(double.IsFinite).Distinct()
                               .Select(t => new ReferenceLine(t, $"target {ReportText.Number(t)}", TargetColor)).ToList();

            yield return new ChartBlock(SweepChart(group.ToList(), "acc_detector", scaled, $"Acc_Detector — {where}", xLabel, "Acc_Detector", targets),
                "Detection accuracy on the balanced set (half clean images, half successful adversarial examples) against the budget, one line per attack, as in MixDefense Fig. 5–7."
                + (targets.Count > 0 ? " The dashed line is the target, which holds at the budgets whose rows carry it (see the table)." : ""));
            if (group.Any(r => double.IsFinite(ReportInputs.Number(r, "acc_rc"))))
                yield return new ChartBlock(SweepChart(group.ToList(), "acc_rc", scaled, $"Acc_RC — {where}", xLabel, "Acc_RC", []),
                    "Accuracy of the robust classifier, Acc_RC = (#detected + #correctly classified) / #adversarial examples (MixDefense Eq. 8).");
        }
    }

    /// <summary>
    /// <c>bench mixdefense</c>, as MixDefense Fig. 5–6 lay it out: per dataset, attack and norm, Acc_Detector against the budget ε with one
    /// line per method (SAEC, FS, MagNet, the cascade...), then Acc_RC likewise with the undefended classifier's accuracy on the same
    /// adversarial examples (from the file's <c>"points"</c>) as a grey "none" line. CIFAR-style L∞ budgets are in 1/255.
    /// </summary>
    public static IEnumerable<ReportBlock> MixDefenseMethods(IReadOnlyList<JsonObject> rows, JsonArray? points)
    {
        var in255ths = DatasetsInTwoHundredFiftyFifths(rows);
        var undefended = points?.OfType<JsonObject>().ToList() ?? [];
        foreach (var group in rows.GroupBy(r => (Dataset: ReportInputs.Text(r, "dataset"), Attack: ReportInputs.Text(r, "attack"), Norm: ReportInputs.Text(r, "norm"))))
        {
            bool scaled = group.Key.Norm == "linf" && in255ths.Contains(group.Key.Dataset);
            string where = Join(group.Key.Dataset, Join(group.Key.Attack, NormName(group.Key.Norm), " "));
            string xLabel = scaled ? $"ε ({NormName(group.Key.Norm)}, in 1/255)" : $"ε ({NormName(group.Key.Norm)})";
            double x(JsonObject r) => ReportInputs.Number(r, "epsilon") * (scaled ? 255 : 1);
            List<LineSeries> ByMethod(string metric) => group.GroupBy(r => ReportInputs.Text(r, "method"))
                .Select(g => new LineSeries(g.Key, g.Select(r => new ChartPoint(x(r), ReportInputs.Number(r, metric))).OrderBy(p => p.X).ToList())).ToList();

            yield return new ChartBlock(new LineChart { Title = $"Acc_Detector — {where}", XLabel = xLabel, YLabel = "Acc_Detector", XMin = 0, YMin = 0, YMax = 1, Series = ByMethod("acc_detector") },
                "Detection accuracy on the balanced set (each successful adversarial example with its clean image) against the budget, one line per method, "
                + "every method on the same adversarial examples, as in MixDefense Fig. 5. CW-L2 and DeepFool points are bins of their examples sorted by L2 (ε = the bin's largest).");
            var rc = ByMethod("acc_rc");
            var none = undefended.Where(p => ReportInputs.Text(p, "dataset") == group.Key.Dataset && ReportInputs.Text(p, "attack") == group.Key.Attack
                                            && ReportInputs.Text(p, "norm") == group.Key.Norm)
                                 .Select(p => new ChartPoint(x(p), ReportInputs.Number(p, "adversarial_accuracy"))).OrderBy(p => p.X).ToList();
            if (none.Count > 0) rc.Insert(0, new LineSeries("none (classifier alone)", none));
            yield return new ChartBlock(new LineChart { Title = $"Acc_RC — {where}", XLabel = xLabel, YLabel = "Acc_RC", XMin = 0, YMin = 0, YMax = 1, Series = rc },
                "Accuracy of the robust classifier, Acc_RC = (#detected + #correctly classified) / #adversarial examples (Eq. 8), as in MixDefense Fig. 6; "
                + "\"none\" is the undefended classifier's accuracy on the same examples.");
        }
    }

    /// <summary>
    /// <c>bench attacks</c>: clean and adversarial accuracy per attack (lower adversarial accuracy = stronger attack);
    /// adversarial accuracy against ε when an attack was run at several budgets; the mean perturbation sizes; and the
    /// speed comparison of the <c>"speed"</c> object when present.
    /// </summary>
    public static IEnumerable<ReportBlock> Attacks(IReadOnlyList<JsonObject> rows, JsonObject? speed)
    {
        var labels = AttackLabels(rows);
        var accuracy = new List<BarSeries>();
        if (rows.Any(r => double.IsFinite(ReportInputs.Number(r, "clean_accuracy")))) accuracy.Add(Bars("clean", rows, "clean_accuracy"));
        accuracy.Add(Bars("adversarial", rows, "adversarial_accuracy"));
        yield return new ChartBlock(new BarChart { Title = "Accuracy under attack", YLabel = "accuracy", Categories = labels, Series = accuracy, YMax = 1 },
            "The classifier's accuracy on the clean test images and on their adversarial examples, per attack and budget: the lower the adversarial accuracy, the stronger the attack.");

        var sweeps = rows.Where(r => double.IsFinite(ReportInputs.Number(r, "epsilon")))
                         .GroupBy(r => Join(ReportInputs.Text(r, "attack"), NormName(ReportInputs.Text(r, "norm")))).ToList();
        if (sweeps.Any(g => g.Select(r => ReportInputs.Number(r, "epsilon")).Distinct().Count() > 1))
            yield return new ChartBlock(new LineChart
            {
                Title = "Attack strength per budget", XLabel = "ε", YLabel = "adversarial accuracy", XMin = 0, YMin = 0, YMax = 1,
                Series = sweeps.Select(g => new LineSeries(g.Key, g.Select(r => new ChartPoint(ReportInputs.Number(r, "epsilon"), ReportInputs.Number(r, "adversarial_accuracy")))
                                                                 .OrderBy(p => p.X).ToList())).ToList(),
            }, "Adversarial accuracy against the perturbation budget, one line per attack.");

        var sizes = new List<BarSeries>();
        if (rows.Any(r => double.IsFinite(ReportInputs.Number(r, "mean_l2")))) sizes.Add(Bars("mean L2", rows, "mean_l2"));
        if (rows.Any(r => double.IsFinite(ReportInputs.Number(r, "mean_linf")))) sizes.Add(Bars("mean L∞", rows, "mean_linf"));
        if (sizes.Count > 0)
            yield return new ChartBlock(new BarChart { Title = "Perturbation size", YLabel = "mean distance to the clean image", Categories = labels, Series = sizes },
                "Mean L2 and L∞ distance between each adversarial example and its clean image (pixels in [0, 1]).");

        if (speed is not null && speed.ContainsKey("mldefense_images_per_s"))
        {
            var row = (JsonObject)speed.DeepClone();
            if (!row.ContainsKey("case")) row["case"] = "speed";
            foreach (var block in EngineSpeed([row], $"{ReportInputs.Text(row, "case").ToUpperInvariant()} speed", ReportInputs.Number(speed, "target_ratio")))
                yield return block;
        }
    }

    /// <summary>
    /// Engine speed (<c>bench engine</c>, and the speed row of <c>bench attacks</c>): images per second of MLDefense and
    /// PyTorch per case, and their ratio against parity (1.0) and <paramref name="target"/> when finite.
    /// </summary>
    public static IEnumerable<ReportBlock> EngineSpeed(IReadOnlyList<JsonObject> rows, string title, double? target)
    {
        var cases = rows.Select(r => ReportInputs.Text(r, "case") is { Length: > 0 } c ? c : "run").ToList();
        yield return new ChartBlock(new BarChart
        {
            Title = $"{title}: images per second", YLabel = "images / s", Categories = cases, ValueDecimals = 1,
            Series = [Bars("MLDefense", rows, "mldefense_images_per_s"), Bars("PyTorch", rows, "pytorch_images_per_s")],
        }, "Throughput of MLDefense's engine (TorchSharp, libtorch 2.10) and of Debian's PyTorch 1.13.1 (an older libtorch), same model and batch (medians of alternating rounds).");

        var ratios = rows.Select(r =>
        {
            double ratio = ReportInputs.Number(r, "ratio");
            if (!double.IsFinite(ratio)) ratio = ReportInputs.Number(r, "mldefense_images_per_s") / ReportInputs.Number(r, "pytorch_images_per_s");
            return double.IsFinite(ratio) ? ratio : (double?)null;
        }).ToList();
        var references = new List<ReferenceLine> { new(1, "parity (1.0)") };
        if (target is double t && double.IsFinite(t) && t != 1) references.Add(new(t, $"target {ReportText.Number(t)}", TargetColor));
        yield return new ChartBlock(new BarChart
        {
            Title = $"{title}: MLDefense / PyTorch", YLabel = "speed ratio", Categories = cases, Series = [new("ratio", ratios)], ReferenceLines = references,
        }, "Speed ratio MLDefense / PyTorch (Debian's PyTorch 1.13.1 runs an older libtorch): above 1, MLDefense is faster. A case PyTorch did not run is marked n/a.");

        // bench engine's roofline: each case's achieved GFLOP/s as a fraction of the matmul peak measured in the same run.
        if (rows.Any(r => double.IsFinite(ReportInputs.Number(r, "mldefense_fraction_of_peak"))))
            yield return new ChartBlock(new BarChart
            {
                Title = $"{title}: fraction of the matmul peak", YLabel = "achieved GFLOP/s ÷ peak", Categories = cases, YMin = 0, YMax = 1,
                Series = [Bars("MLDefense", rows, "mldefense_fraction_of_peak"), Bars("PyTorch", rows, "pytorch_fraction_of_peak")],
            }, "Roofline: each case's convolution and linear-layer FLOPs (counted analytically) per second, divided by the faster engine's 1024² float32 matmul rate in the same run.");
    }

    /// <summary><c>bench classifier</c>: test accuracy per dataset and architecture, next to its target when it has one.</summary>
    public static IEnumerable<ReportBlock> Classifier(IReadOnlyList<JsonObject> rows)
    {
        var categories = rows.Select(r => Join(ReportInputs.Text(r, "dataset"), ReportInputs.Text(r, "architecture"), " / ")).ToList();
        var series = new List<BarSeries> { Bars("test accuracy", rows, "test_accuracy") };
        if (rows.Any(r => double.IsFinite(ReportInputs.Number(r, "target")))) series.Add(Bars("target", rows, "target"));
        yield return new ChartBlock(new BarChart { Title = "Classifier accuracy", YLabel = "test accuracy", Categories = categories, Series = series, YMax = 1, ValueDecimals = 4 },
            "Accuracy of the trained classifiers on their clean test sets.");
    }

    /// <summary>
    /// <c>bench aegan</c>: per dataset, accuracy after purification for each attack (groups) and method (bars: none,
    /// MagNet-style, Defense-GAN-style, AE-GAN+sr), and the milliseconds per image of each, on a log axis when they span
    /// orders of magnitude. A white-box row (<c>"threat": "white-box"</c>, an attack through the defense) is its own group,
    /// named after what the attack went through (e.g. <c>FGSM white-box via search</c>).
    /// </summary>
    public static IEnumerable<ReportBlock> AeGan(IReadOnlyList<JsonObject> rows)
    {
        rows = rows.Select(r => ReportInputs.Text(r, "threat") == "white-box" && ReportInputs.Text(r, "attack_through") is { Length: > 0 } through && through != "bpda"
            ? WithText(r, "attack", $"{ReportInputs.Text(r, "attack")} white-box via {through}") : r).ToList();
        foreach (var dataset in rows.GroupBy(r => ReportInputs.Text(r, "dataset")))
        {
            var (attacks, series) = Grouped(dataset.ToList(), "attack", "method", "accuracy");
            yield return new ChartBlock(new BarChart { Title = Join("Accuracy after purification", dataset.Key, " — "), YLabel = "accuracy", Categories = attacks, Series = series, YMax = 1 },
                "Classifier accuracy on the adversarial examples after each purifier (\"none\": no defense), as in AE-GAN Table 1.");
            if (dataset.Any(r => double.IsFinite(ReportInputs.Number(r, "ms_per_image"))))
            {
                var (_, times) = Grouped(dataset.ToList(), "attack", "method", "ms_per_image");
                var positive = times.SelectMany(s => s.Values).Where(v => v > 0).Select(v => v!.Value).ToList();
                bool log = positive.Count > 1 && positive.Max() / positive.Min() >= 30;
                yield return new ChartBlock(new BarChart
                {
                    Title = Join("Cost of purification", dataset.Key, " — "), YLabel = log ? "ms per image (log scale)" : "ms per image",
                    Categories = attacks, Series = times, LogScale = log, ValueDecimals = 2,
                }, "Milliseconds of purification per image" + (log ? " (log scale: the methods differ by orders of magnitude)." : "."));
            }
        }
    }

    /// <summary><c>bench miaed</c>: per dataset, detection accuracy for each attack (groups) and variant (bars: the full model and its ablations).</summary>
    public static IEnumerable<ReportBlock> Miaed(IReadOnlyList<JsonObject> rows)
    {
        foreach (var dataset in rows.GroupBy(r => ReportInputs.Text(r, "dataset")))
        {
            var (attacks, series) = Grouped(dataset.ToList(), "attack", "variant", "accuracy");
            yield return new ChartBlock(new BarChart { Title = Join("MIAED detection accuracy", dataset.Key, " — "), YLabel = "accuracy", Categories = attacks, Series = series, YMax = 1 },
                "Detection accuracy under the MIAED protocol (adversarial examples as positives, counted twice against clean and noisy negatives), as in MIAED Table 7 and, per variant, Table 10.");
        }
    }

    /// <summary>
    /// <c>defend</c> (the main job): per image set (clean, each attack), the classifier's accuracy with and without the
    /// purifier and the share of images each detector flags (on clean images: false positives), and the share handled
    /// correctly (MixDefense's Acc_RC on adversarial sets).
    /// </summary>
    public static IEnumerable<ReportBlock> DefendedPipeline(IReadOnlyList<JsonObject> rows)
    {
        var sets = rows.Select(r => ReportInputs.Text(r, "set")).ToList();
        yield return new ChartBlock(new BarChart
        {
            Title = "Accuracy with and without the defenses", YLabel = "share of images", Categories = sets, YMax = 1,
            Series = [Bars("undefended", rows, "undefended_accuracy"), Bars("purified", rows, "purified_accuracy"), Bars("handled correctly", rows, "handled_correctly")],
        }, "Classifier accuracy on the images as they are and after AE-GAN+sr purification; handled correctly = flagged or classified correctly "
         + "(adversarial sets, MixDefense Eq. 8), classified correctly and not flagged (clean set).");
        yield return new ChartBlock(new BarChart
        {
            Title = "Images flagged by each detector", YLabel = "share flagged", Categories = sets, YMax = 1,
            Series = [Bars("SAEC", rows, "saec_flagged"), Bars("AE-GAN+sr", rows, "aegan_flagged"), Bars("MIAED", rows, "miaed_flagged"), Bars("any", rows, "any_flagged")],
        }, "On clean images the flagged share is the false-positive rate; on adversarial images, the detection rate.");
    }

    /// <summary>
    /// ROC curves of the rows that carry <c>"roc"</c> (<see cref="RocJson"/>): rows swept over ε are grouped per dataset,
    /// norm and attack with one curve per budget; others per dataset with one curve per attack/variant/method. At most
    /// <see cref="MaxCurvesPerChart"/> curves per chart. A malformed curve is named in a warning and skipped.
    /// </summary>
    public static IEnumerable<ReportBlock> Roc(IReadOnlyList<JsonObject> rows, BenchmarkKind kind)
    {
        var curves = new List<(JsonObject Row, IReadOnlyList<(double Fpr, double Tpr)> Points)>();
        for (int i = 0; i < rows.Count; i++)
        {
            if (!rows[i].TryGetPropertyValue(ReportInputs.RocProperty, out var node)) continue;
            var points = RocJson.Read(node, out var problem);
            if (points is null) yield return new NoteBlock($"Row {i + 1}: \"{ReportInputs.RocProperty}\" {problem}; its ROC curve is not drawn.", Warning: true);
            else if (points.Count > 0) curves.Add((rows[i], points));
        }
        if (curves.Count == 0) yield break;

        bool sweep = curves.Select(c => ReportInputs.Number(c.Row, "epsilon")).Where(double.IsFinite).Distinct().Count() > 1;
        string[] groupFields = sweep ? ["dataset", "norm", "attack"] : ["dataset"];
        var in255ths = DatasetsInTwoHundredFiftyFifths(curves.Select(c => c.Row).ToList());
        foreach (var group in curves.GroupBy(c => string.Join('\u0001', groupFields.Select(f => ReportInputs.Text(c.Row, f)))))
        {
            var members = group.ToList();
            var first = members[0].Row;
            string where = string.Join(", ", groupFields.Select(f => f == "norm" ? NormName(ReportInputs.Text(first, f)) : ReportInputs.Text(first, f)).Where(s => s.Length > 0));
            var labelFields = LabelFields(members.Select(m => m.Row).ToList(), groupFields);
            var series = members.Select((m, i) =>
            {
                string label = sweep
                    ? "ε = " + ReportText.Epsilon(ReportInputs.Number(m.Row, "epsilon"), ReportInputs.Text(m.Row, "norm") == "linf" && in255ths.Contains(ReportInputs.Text(m.Row, "dataset")))
                    : labelFields.Count > 0 ? string.Join(" ", labelFields.Select(f => ReportInputs.Text(m.Row, f))) : $"row {i + 1}";
                double auc = ReportInputs.Number(m.Row, "auc");
                if (double.IsFinite(auc)) label += $" (AUC {auc:F3})";
                return new LineSeries(label, m.Points.Select(p => new ChartPoint(p.Fpr, p.Tpr)).ToList());
            }).ToList();
            int parts = (series.Count + MaxCurvesPerChart - 1) / MaxCurvesPerChart;
            for (int part = 0; part < parts; part++)
                yield return new ChartBlock(new LineChart
                {
                    Title = "ROC" + (where.Length > 0 ? $" — {where}" : "") + (parts > 1 ? $" ({part + 1}/{parts})" : ""),
                    XLabel = "false-positive rate", YLabel = "true-positive rate", Width = 560, Height = 440,
                    XMin = 0, XMax = 1, YMin = 0, YMax = 1, Markers = false, ChanceDiagonal = true,
                    Series = series.Skip(part * MaxCurvesPerChart).Take(MaxCurvesPerChart).ToList(),
                }, kind == BenchmarkKind.MixDefenseSweep
                    ? "ROC curves of the detector's score on the balanced set (adversarial = positive), one per budget."
                    : "ROC curves of the detector's score (adversarial = positive).");
        }
    }

    /// <summary>
    /// Whether <paramref name="rows"/> are a learning curve (<c>bench miaed --curve</c>, <c>bench aegan --curve</c>): each
    /// has a numeric <c>"epoch"</c> and <c>"accuracy"</c> and a string <c>"attack"</c>.
    /// </summary>
    public static bool IsLearningCurve(IReadOnlyList<JsonObject> rows) => rows.Count > 0 && rows.All(r =>
        double.IsFinite(ReportInputs.Number(r, "epoch")) && double.IsFinite(ReportInputs.Number(r, "accuracy")) && ReportInputs.Text(r, "attack").Length > 0);

    /// <summary>
    /// A learning curve (<see cref="IsLearningCurve"/>): per dataset, accuracy against training epochs, one line per attack
    /// and series (the row's <c>"variant"</c> or <c>"method"</c>) — the evidence for whether more training closes a gap.
    /// </summary>
    public static IEnumerable<ReportBlock> LearningCurve(IReadOnlyList<JsonObject> rows)
    {
        foreach (var dataset in rows.GroupBy(r => ReportInputs.Text(r, "dataset")))
        {
            var lines = dataset.GroupBy(r => Join(ReportInputs.Text(r, "attack"), Join(ReportInputs.Text(r, "variant"), ReportInputs.Text(r, "method"), ""), " · "))
                .Select(g => new LineSeries(g.Key, g.Select(r => new ChartPoint(ReportInputs.Number(r, "epoch"), ReportInputs.Number(r, "accuracy"))).OrderBy(p => p.X).ToList()))
                .ToList();
            for (int start = 0; start < lines.Count; start += MaxCurvesPerChart)
                yield return new ChartBlock(new LineChart
                {
                    Title = Join("Accuracy against training epochs", dataset.Key, " — "), XLabel = "epoch", YLabel = "accuracy", XMin = 0, YMin = 0, YMax = 1,
                    Series = lines.Skip(start).Take(MaxCurvesPerChart).ToList(),
                }, "The benchmark's evaluation of the model after each probed epoch (on the first test images, as the rows say), one line per attack and method or variant.");
        }
    }

    /// <summary>Training curves: for an array of objects that all have a numeric <c>"epoch"</c> (e.g. <c>train-classifier</c>'s <c>"history"</c>), one chart per other numeric property.</summary>
    public static IEnumerable<ReportBlock> History(NamedRows table)
    {
        var rows = table.Rows;
        if (rows.Count < 2 || !rows.All(r => double.IsFinite(ReportInputs.Number(r, "epoch")))) yield break;
        var fields = rows[0].Select(p => p.Key).Where(k => k != "epoch" && rows.All(r => double.IsFinite(ReportInputs.Number(r, k)))).ToList();
        foreach (var field in fields)
            yield return new ChartBlock(new LineChart
            {
                Title = $"{table.Name}: {field}", XLabel = "epoch", YLabel = field, Width = 480, Height = 320,
                Series = [new LineSeries(field, rows.Select(r => new ChartPoint(ReportInputs.Number(r, "epoch"), ReportInputs.Number(r, field))).ToList())],
            });
    }

    /// <summary>The datasets whose L∞ budgets are all whole numbers of 1/255 (<see cref="ReportText.InTwoHundredFiftyFifths"/>).</summary>
    public static HashSet<string> DatasetsInTwoHundredFiftyFifths(IReadOnlyList<JsonObject> rows) =>
        rows.Where(r => ReportInputs.Text(r, "norm") == "linf")
            .GroupBy(r => ReportInputs.Text(r, "dataset"))
            .Where(g => ReportText.InTwoHundredFiftyFifths(g.Select(r => ReportInputs.Number(r, "epsilon"))))
            .Select(g => g.Key).ToHashSet(StringComparer.Ordinal);

    /// <summary>"L∞" for linf, "L2" for l2, else the name as given.</summary>
    public static string NormName(string norm) => norm switch { "linf" => "L∞", "l2" => "L2", _ => norm };

    private static LineChart SweepChart(IReadOnlyList<JsonObject> rows, string metric, bool scaled, string title, string xLabel, string yLabel,
                                        IReadOnlyList<ReferenceLine> references) => new()
    {
        Title = title, XLabel = xLabel, YLabel = yLabel, XMin = 0, YMin = 0, YMax = 1, ReferenceLines = references,
        Series = rows.GroupBy(r => ReportInputs.Text(r, "attack"))
                     .Select(g => new LineSeries(g.Key, g.Select(r => new ChartPoint(ReportInputs.Number(r, "epsilon") * (scaled ? 255 : 1), ReportInputs.Number(r, metric)))
                                                         .OrderBy(p => p.X).ToList()))
                     .ToList(),
    };

    private static List<string> AttackLabels(IReadOnlyList<JsonObject> rows)
    {
        // The norm is named only where one attack name appears under two norms (BIM L∞ and BIM L2).
        var ambiguous = rows.GroupBy(r => ReportInputs.Text(r, "attack")).Where(g => g.Select(r => ReportInputs.Text(r, "norm")).Distinct().Count() > 1)
                            .Select(g => g.Key).ToHashSet();
        return rows.Select(r =>
        {
            string attack = ReportInputs.Text(r, "attack");
            string label = ambiguous.Contains(attack) ? Join(attack, NormName(ReportInputs.Text(r, "norm")), " ") : attack;
            double epsilon = ReportInputs.Number(r, "epsilon");
            return double.IsFinite(epsilon) ? $"{label} ε={ReportText.Number(epsilon)}" : label;
        }).ToList();
    }

    private static BarSeries Bars(string name, IReadOnlyList<JsonObject> rows, string field) =>
        new(name, rows.Select(r => ReportInputs.Number(r, field) is var v && double.IsFinite(v) ? v : (double?)null).ToList());

    /// <summary>Categories from <paramref name="categoryField"/>, one bar series per value of <paramref name="seriesField"/>, heights from <paramref name="valueField"/> (the first row of each pair).</summary>
    private static (List<string> Categories, List<BarSeries> Series) Grouped(IReadOnlyList<JsonObject> rows, string categoryField, string seriesField, string valueField)
    {
        var categories = rows.Select(r => ReportInputs.Text(r, categoryField)).Distinct().ToList();
        var names = rows.Select(r => ReportInputs.Text(r, seriesField)).Distinct().ToList();
        var series = names.Select(name => new BarSeries(name, categories.Select(category =>
        {
            var row = rows.FirstOrDefault(r => ReportInputs.Text(r, categoryField) == category && ReportInputs.Text(r, seriesField) == name);
            double v = row is null ? double.NaN : ReportInputs.Number(row, valueField);
            return double.IsFinite(v) ? v : (double?)null;
        }).ToList())).ToList();
        return (categories, series);
    }

    /// <summary>The string properties (not in <paramref name="exclude"/>) whose values differ between rows: what tells the curves of one chart apart.</summary>
    private static List<string> LabelFields(IReadOnlyList<JsonObject> rows, string[] exclude) =>
        rows[0].Where(p => p.Value is JsonValue v && v.GetValueKind() == JsonValueKind.String && !exclude.Contains(p.Key))
               .Select(p => p.Key)
               .Where(k => rows.Select(r => ReportInputs.Text(r, k)).Distinct().Count() > 1)
               .ToList();

    /// <summary>A copy of <paramref name="row"/> with <paramref name="name"/> set to <paramref name="value"/>.</summary>
    private static JsonObject WithText(JsonObject row, string name, string value)
    {
        var copy = (JsonObject)row.DeepClone();
        copy[name] = value;
        return copy;
    }

    private static string Join(string a, string b, string separator = ", ") =>
        a.Length == 0 ? b : b.Length == 0 ? a : a + separator + b;
}
