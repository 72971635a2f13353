namespace MLDefense.Legacy.Tests;

[TestClass]
public sealed class PredictionTests
{
    private static (MLContext Ml, FeatureRow[] Rows, IDataView Data, TransformerChain<LinearScoreTransformer> Model) Fit(int count = 40)
    {
        var ml = new MLContext(seed: 5);
        var rows = TestData.Rows(count, seed: 11);
        var data = ml.Data.LoadFromEnumerable(rows);
        return (ml, rows, data, new AddOffsetEstimator().Append(new LinearScoreEstimator(ml)).Fit(data));
    }

    private static void AssertSamePrediction(ScoredRow expected, ScoredRow actual, string what)
    {
        CollectionAssert.AreEqual(expected.Score, actual.Score, $"{what}: Score");
        CollectionAssert.AreEqual(expected.Shifted, actual.Shifted, $"{what}: Shifted");
        Assert.AreEqual(expected.PredictedLabel, actual.PredictedLabel, $"{what}: PredictedLabel");
    }

    [TestMethod]
    public void SingleRowPredictionsEqualTheBatchTransform()
    {
        var (ml, rows, data, model) = Fit();
        using var fitted = model;
        var batch = ml.Data.CreateEnumerable<ScoredRow>(model.Transform(data)).ToList();
        var engine = ml.Model.CreatePredictionEngine<FeatureRow, ScoredRow>(model);
        for (int i = 0; i < rows.Length; i++) AssertSamePrediction(batch[i], engine.Predict(rows[i]), $"row {i}");
        Assert.IsTrue(engine.OutputSchema.SameAs(model.GetOutputSchema(data.Schema)));
    }

    [TestMethod]
    public void BatchPredictorFromEightThreadsAtOnceMatchesSequentialCalls()
    {
        var (ml, rows, data, model) = Fit(64);
        using var fitted = model;
        // Serve a loaded model, as a web app would.
        using var stream = new MemoryStream();
        ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        using var loaded = (TransformerChain<ITransformer>)ml.Model.Load(stream, out _);

        var engine = ml.Model.CreatePredictionEngine<FeatureRow, ScoredRow>(loaded);
        var sequential = rows.Select(engine.Predict).ToList();
        var predictor = ml.Model.CreateBatchPredictor<FeatureRow, ScoredRow>(loaded);

        const int threads = 8;
        var start = new Barrier(threads);
        var results = new List<ScoredRow>[threads];
        var batched = new IReadOnlyList<ScoredRow>[threads];
        // An exception escaping a thread would end the test process, so each worker reports it instead.
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try { Work(t); }
            catch (Exception ex) { failures.Enqueue(ex); }
        })).ToList();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) Assert.IsTrue(w.Join(TimeSpan.FromSeconds(60)), "a prediction thread hung");
        Assert.IsTrue(failures.IsEmpty, $"prediction threads failed: {string.Join("; ", failures.Select(f => f.Message))}");

        for (int t = 0; t < threads; t++)
            for (int i = 0; i < rows.Length; i++)
            {
                AssertSamePrediction(sequential[i], results[t][i], $"thread {t}, row {i}, one at a time");
                AssertSamePrediction(sequential[i], batched[t][i], $"thread {t}, row {i}, batched");
            }

        void Work(int t)
        {
            start.SignalAndWait();
            // Each thread walks the rows in its own order, so calls for different rows overlap.
            var order = Enumerable.Range(0, rows.Length).ToArray();
            new Random(t).Shuffle(order);
            var mine = new ScoredRow[rows.Length];
            foreach (var i in order) mine[i] = predictor.Predict(rows[i]);
            results[t] = [.. mine];
            batched[t] = predictor.Predict(rows);
        }
    }

    [TestMethod]
    public void BatchPredictorKeepsTheOrderOfItsExamples()
    {
        var (ml, rows, data, model) = Fit(300);
        using var fitted = model;
        var predictor = ml.Model.CreateBatchPredictor<FeatureRow, ScoredRow>(model);
        var all = predictor.Predict(rows);
        var expected = ml.Data.CreateEnumerable<ScoredRow>(model.Transform(data)).ToList();
        Assert.AreEqual(rows.Length, all.Count);
        for (int i = 0; i < rows.Length; i++) AssertSamePrediction(expected[i], all[i], $"row {i}");
        Assert.AreEqual(0, predictor.Predict(Array.Empty<FeatureRow>()).Count);
        Assert.ThrowsExactly<ArgumentException>(() => predictor.Predict([rows[0], null!]));
    }

    public sealed class LabelAsFloat
    {
        public float PredictedLabel { get; set; }
    }

    public sealed class NoFeatures
    {
        public int Label { get; set; }
    }

    public sealed class ScoreAndComment
    {
        [VectorType(3)] public float[] Score { get; set; } = [];
        public string? Comment { get; set; }
    }

    public sealed class Unrelated
    {
        public string? Comment { get; set; }
    }

    [TestMethod]
    public void CreationChecksBothClassesAgainstTheModelNamingTheColumn()
    {
        var (ml, _, _, model) = Fit(4);
        using var fitted = model;

        var wrongType = Assert.ThrowsExactly<ArgumentException>(() => ml.Model.CreatePredictionEngine<FeatureRow, LabelAsFloat>(model));
        StringAssert.Contains(wrongType.Message, "PredictedLabel");
        StringAssert.Contains(wrongType.Message, nameof(LabelAsFloat));

        var wrongInput = Assert.ThrowsExactly<ArgumentException>(() => ml.Model.CreateBatchPredictor<NoFeatures, ScoredRow>(model));
        StringAssert.Contains(wrongInput.Message, "Features");
        StringAssert.Contains(wrongInput.Message, nameof(NoFeatures));

        var tolerated = ml.Model.CreatePredictionEngine<FeatureRow, ScoreAndComment>(model).Predict(TestData.Rows(1)[0]);
        Assert.AreEqual(3, tolerated.Score.Length);
        Assert.IsNull(tolerated.Comment, "a member without a column keeps its default");

        var strict = Assert.ThrowsExactly<ArgumentException>(() => ml.Model.CreatePredictionEngine<FeatureRow, ScoreAndComment>(model, ignoreMissingColumns: false));
        StringAssert.Contains(strict.Message, "Comment");

        var nothing = Assert.ThrowsExactly<ArgumentException>(() => ml.Model.CreatePredictionEngine<FeatureRow, Unrelated>(model));
        StringAssert.Contains(nothing.Message, "None of");
    }

    /// <summary>Holds every batch until released, so a test can keep an engine busy on one thread.</summary>
    private sealed class GateTransformer(ManualResetEventSlim entered, ManualResetEventSlim release) : BatchTransformer
    {
        public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => ["Label"];
        public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [new("Passed", NumberDataViewType.Int32)];
        public override IReadOnlyList<Array> MapBatch(DataBatch input)
        {
            entered.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            return [input.Get<int>("Label")];
        }
    }

    public sealed class PassedRow
    {
        public int Passed { get; set; }
    }

    [TestMethod]
    public void APredictionEngineUsedFromTwoThreadsAtOnceFailsLoudly()
    {
        var ml = new MLContext(1);
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var engine = ml.Model.CreatePredictionEngine<FeatureRow, PassedRow>(new GateTransformer(entered, release));
        var row = TestData.Rows(1)[0];
        var busy = Task.Run(() => engine.Predict(row));
        Assert.IsTrue(entered.Wait(TimeSpan.FromSeconds(30)));
        var ex = Assert.ThrowsExactly<InvalidOperationException>(() => engine.Predict(row));
        StringAssert.Contains(ex.Message, "not thread-safe");
        release.Set();
        Assert.AreEqual(row.Label, busy.Result.Passed);
        Assert.AreEqual(row.Label, engine.Predict(row).Passed, "usable again once the other call is done");
    }
}
