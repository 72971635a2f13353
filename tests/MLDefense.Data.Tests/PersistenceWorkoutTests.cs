using MLDefense.Data;

namespace MLDefense.Legacy.Tests;

/// <summary>The workout helper on the test components — and proof that it fails when an estimator breaks a promise.</summary>
[TestClass]
public sealed class PersistenceWorkoutTests
{
    public sealed class FeaturesAsScalar
    {
        public float Features { get; set; }
    }

    public sealed class FiveFeatures
    {
        [VectorType(5)] public float[] Features { get; set; } = [];
    }

    public sealed class LabelOnly
    {
        public int Label { get; set; }
    }

    private static IReadOnlyList<BadInput> BadInputsFor(MLContext ml) =>
    [
        new("no Features column", ml.Data.LoadFromEnumerable(new[] { new LabelOnly() }), "Features"),
        new("a scalar Features column", ml.Data.LoadFromEnumerable(new[] { new FeaturesAsScalar() }), "Features"),
        new("NaN features", ml.Data.LoadFromEnumerable(new[] { new FeatureRow { Features = [1, float.NaN, 0, 0] } }), "NaN", BadInputStage.Fit),
        new("no rows", ml.Data.LoadFromEnumerable(Array.Empty<FeatureRow>()), "empty", BadInputStage.Fit),
    ];

    [TestMethod]
    public void WorkoutOfASingleEstimator()
    {
        var ml = new MLContext(2);
        var train = ml.Data.LoadFromEnumerable(TestData.Rows(30, seed: 1));
        var test = ml.Data.LoadFromEnumerable(TestData.Rows(10, seed: 2));
        using var result = Workout.Run(ml, new AddOffsetEstimator(), train, test, BadInputsFor(ml));
        Assert.AreEqual(10, result.Output.GetRowCount());
        Assert.IsInstanceOfType<AddOffsetTransformer>(result.Loaded);
    }

    [TestMethod]
    public void WorkoutOfAChainWithWeights()
    {
        var ml = new MLContext(2);
        var train = ml.Data.LoadFromEnumerable(TestData.Rows(30, seed: 1));
        var estimator = new AddOffsetEstimator().Append(new LinearScoreEstimator(ml));
        IReadOnlyList<BadInput> bad = [.. BadInputsFor(ml), new("a vector of 5", ml.Data.LoadFromEnumerable(new[] { new FiveFeatures { Features = new float[5] } }), "Vector<Single, 4>")];
        using var result = Workout.Run(ml, estimator, train, testData: null, bad);
        Assert.IsInstanceOfType<TransformerChain<ITransformer>>(result.Loaded);
        Assert.IsNotNull(result.Output.Schema.GetColumnOrNull("Score"));
    }

    /// <summary>Saves its offset rounded, so the loaded model differs from the fitted one.</summary>
    [ModelComponent("Tests.LossyOffset")]
    internal sealed class LossyOffsetTransformer(float offset) : BatchTransformer, ISavableTransformer, ILoadableTransformer<LossyOffsetTransformer>
    {
        public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => ["Features"];
        public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [new("Shifted", inputSchema["Features"].Type)];
        public override IReadOnlyList<Array> MapBatch(DataBatch input) => [Array.ConvertAll(input.Get<float>("Features"), v => v + offset)];
        public void Save(ModelSaveContext context) => context.WriteJson("offset.json", MathF.Round(offset, 1));
        public static LossyOffsetTransformer Load(ModelLoadContext context) => new(context.ReadJson<float>("offset.json"));
    }

    private sealed class LossyEstimator : IEstimator<LossyOffsetTransformer>
    {
        public LossyOffsetTransformer Fit(IDataView input) => new(0.123f);
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new LossyOffsetTransformer(0).GetOutputSchema(inputSchema);
    }

    /// <summary>Promises a column the transformer never adds.</summary>
    private sealed class LyingSchemaEstimator : IEstimator<AddOffsetTransformer>
    {
        public AddOffsetTransformer Fit(IDataView input) => new AddOffsetEstimator().Fit(input);
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) =>
            new AddOffsetEstimator().GetOutputSchema(inputSchema).Append(new DataViewSchema.Column("Extra", NumberDataViewType.Single));
    }

    [TestMethod]
    public void TheWorkoutCatchesBrokenPromises()
    {
        var ml = new MLContext(2);
        var train = ml.Data.LoadFromEnumerable(TestData.Rows(8));
        var missingColumn = new BadInput("no Features column", ml.Data.LoadFromEnumerable(new[] { new LabelOnly() }), "Features");

        var lossy = Assert.ThrowsExactly<AssertFailedException>(() => Workout.Run(ml, new LossyEstimator(), train, null, [missingColumn]).Dispose());
        StringAssert.Contains(lossy.Message, "after save → load");

        var lying = Assert.ThrowsExactly<AssertFailedException>(() => Workout.Run(ml, new LyingSchemaEstimator(), train, null, [missingColumn]).Dispose());
        StringAssert.Contains(lying.Message, "output schema");

        var lenient = new BadInput("NaN features", ml.Data.LoadFromEnumerable(new[] { new FeatureRow { Features = [float.NaN, 0, 0, 0] } }), "NaN", BadInputStage.Fit);
        var accepted = Assert.ThrowsExactly<AssertFailedException>(() => Workout.Run(ml, new LossyEstimator(), train, null, [lenient]).Dispose());
        StringAssert.Contains(accepted.Message, "after save → load", "the lossy save fails first");

        var nothingBad = Assert.ThrowsExactly<AssertFailedException>(() => Workout.Run(ml, new AddOffsetEstimator(), train, null, []).Dispose());
        StringAssert.Contains(nothingBad.Message, "at least one bad input");
    }

    /// <summary>Accepts everything and saves faithfully: only the bad-input check can catch it.</summary>
    private sealed class UncheckedEstimator : IEstimator<AddOffsetTransformer>
    {
        public AddOffsetTransformer Fit(IDataView input) => new(new("Features", "Shifted", 1));
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new AddOffsetTransformer(new("Features", "Shifted", 1)).GetOutputSchema(inputSchema);
    }

    [TestMethod]
    public void TheWorkoutCatchesBadInputThatIsAccepted()
    {
        var ml = new MLContext(2);
        var train = ml.Data.LoadFromEnumerable(TestData.Rows(8));
        var nan = new BadInput("NaN features", ml.Data.LoadFromEnumerable(new[] { new FeatureRow { Features = [float.NaN, 0, 0, 0] } }), "NaN", BadInputStage.Fit);
        var ex = Assert.ThrowsExactly<AssertFailedException>(() => Workout.Run(ml, new UncheckedEstimator(), train, null, [nan]).Dispose());
        StringAssert.Contains(ex.Message, "was accepted");
    }
}
