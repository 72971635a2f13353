using MLDefense.Data;

namespace MLDefense.Legacy.Tests;

// Small savable components used by the persistence, prediction and workout tests. They live in the test assembly,
// which the registry scans like any third party's.

public sealed class FeatureRow
{
    [VectorType(4)] public float[] Features { get; set; } = [];
    public int Label { get; set; }
}

public sealed class ScoredRow
{
    [VectorType(4)] public float[] Shifted { get; set; } = [];
    [VectorType(3)] public float[] Score { get; set; } = [];
    public int PredictedLabel { get; set; }
}

internal static class TestData
{
    public static FeatureRow[] Rows(int count, int seed = 7)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new FeatureRow
        {
            Features = Enumerable.Range(0, 4).Select(_ => (float)random.NextDouble()).ToArray(),
            Label = i % 3,
        }).ToArray();
    }
}

/// <summary>Adds <c>output = input + offset</c> to a vector column; options only, no weights.</summary>
[ModelComponent("Tests.AddOffset")]
internal sealed class AddOffsetTransformer(AddOffsetTransformer.Options options) : BatchTransformer, ISavableTransformer, ILoadableTransformer<AddOffsetTransformer>
{
    public sealed record Options(string InputColumn, string OutputColumn, float Offset);

    public Options Settings => options;

    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [options.InputColumn];

    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema)
    {
        var column = inputSchema.GetColumnOrNull(options.InputColumn)
            ?? throw new ArgumentException($"Column '{options.InputColumn}' is missing: expected a float vector.");
        if (column.Type is not VectorDataViewType vector)
            throw new ArgumentException($"Column '{options.InputColumn}': expected a float vector, found {column.Type}.");
        return [new DataViewSchema.Column(options.OutputColumn, vector)];
    }

    public override IReadOnlyList<Array> MapBatch(DataBatch input) => [Array.ConvertAll(input.Get<float>(options.InputColumn), v => v + options.Offset)];

    public void Save(ModelSaveContext context) => context.WriteOptions(options);

    public static AddOffsetTransformer Load(ModelLoadContext context) => new(context.ReadOptions<Options>());
}

/// <summary>Learns the offset that centres the column (minus its mean); rejects NaN.</summary>
internal sealed class AddOffsetEstimator(string inputColumn = "Features", string outputColumn = "Shifted") : IEstimator<AddOffsetTransformer>
{
    public AddOffsetTransformer Fit(IDataView input)
    {
        GetOutputSchema(input.Schema);
        var values = input.GetBatches(1024, [inputColumn]).SelectMany(b => b.Get<float>(inputColumn)).ToArray();
        if (values.Length == 0) throw new ArgumentException($"Column '{inputColumn}': the data is empty; there is nothing to fit.");
        if (values.Any(float.IsNaN)) throw new ArgumentException($"Column '{inputColumn}' holds NaN values.");
        return new AddOffsetTransformer(new(inputColumn, outputColumn, -values.Average()));
    }

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new AddOffsetTransformer(new(inputColumn, outputColumn, 0)).GetOutputSchema(inputSchema);
}

/// <summary>A linear layer from a vector column of 4 to Score (3 values) and PredictedLabel (argmax); weights via WriteModule.</summary>
[ModelComponent("Tests.LinearScore", version: 2)]
internal sealed class LinearScoreTransformer : BatchTransformer, ISavableTransformer, ILoadableTransformer<LinearScoreTransformer>, IDisposable
{
    public sealed record Options(string InputColumn, int Inputs, int Classes);

    private readonly Options options;
    private readonly Linear layer;
    private readonly Device device;

    public LinearScoreTransformer(Options options, Linear layer, Device device) => (this.options, this.layer, this.device) = (options, layer, device);

    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [options.InputColumn];

    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema)
    {
        var column = inputSchema.GetColumnOrNull(options.InputColumn)
            ?? throw new ArgumentException($"Column '{options.InputColumn}' is missing: expected Vector<Single, {options.Inputs}>.");
        if (!column.Type.Equals(new VectorDataViewType(options.Inputs)))
            throw new ArgumentException($"Column '{options.InputColumn}': expected Vector<Single, {options.Inputs}>, found {column.Type}.");
        return [new DataViewSchema.Column("Score", new VectorDataViewType(options.Classes)), new DataViewSchema.Column("PredictedLabel", NumberDataViewType.Int32)];
    }

    public override IReadOnlyList<Array> MapBatch(DataBatch input)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var scores = DataBatch.FromTensor(layer.forward(input.ToTensor(options.InputColumn, device)));
        var labels = new int[input.RowCount];
        for (int r = 0; r < labels.Length; r++)
        {
            var row = scores.AsSpan(r * options.Classes, options.Classes);
            labels[r] = row.IndexOf(row.ToArray().Max());
        }
        return [scores, labels];
    }

    public void Save(ModelSaveContext context)
    {
        context.WriteOptions(options);
        context.WriteModule(layer);
    }

    public static LinearScoreTransformer Load(ModelLoadContext context)
    {
        var options = context.ReadOptions<Options>();
        var layer = torch.nn.Linear(options.Inputs, options.Classes, device: context.Context.Device);
        try
        {
            context.LoadModule(layer);
        }
        catch
        {
            layer.Dispose();
            throw;
        }
        return new LinearScoreTransformer(options, layer, context.Context.Device);
    }

    public void Dispose() => layer.Dispose();
}

/// <summary>Initialises a linear layer from the context's seed (no training: the tests need weights, not accuracy).</summary>
internal sealed class LinearScoreEstimator(MLContext ml, string inputColumn = "Shifted") : IEstimator<LinearScoreTransformer>
{
    public LinearScoreTransformer Fit(IDataView input)
    {
        GetOutputSchema(input.Schema);
        torch.manual_seed((long)ml.NextSeed());
        var options = new LinearScoreTransformer.Options(inputColumn, 4, 3);
        return new LinearScoreTransformer(options, torch.nn.Linear(4, 3, device: ml.Device), ml.Device);
    }

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        using var probe = new LinearScoreTransformer(new(inputColumn, 4, 3), torch.nn.Linear(4, 3), CPU);
        return probe.GetOutputSchema(inputSchema);
    }
}

/// <summary>Writes a file, then fails half-way through saving (a full disk, a bug).</summary>
[ModelComponent("Tests.ThrowsOnSave")]
internal sealed class ThrowsOnSaveTransformer : BatchTransformer, ISavableTransformer, ILoadableTransformer<ThrowsOnSaveTransformer>
{
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<Array> MapBatch(DataBatch input) => [];

    public void Save(ModelSaveContext context)
    {
        context.WriteJson("partial.json", new { Written = true });
        throw new IOException("simulated failure half-way through saving");
    }

    public static ThrowsOnSaveTransformer Load(ModelLoadContext context) => new();
}

/// <summary>A transformer that does not implement ISavableTransformer.</summary>
internal sealed class NotSavableTransformer : BatchTransformer
{
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<Array> MapBatch(DataBatch input) => [];
}

/// <summary>Savable, but its class forgot the [ModelComponent] attribute.</summary>
internal sealed class SavableWithoutAttributeTransformer : BatchTransformer, ISavableTransformer
{
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<Array> MapBatch(DataBatch input) => [];
    public void Save(ModelSaveContext context) { }
}

/// <summary>Savable and named, but nothing can load it: neither ILoadableTransformer nor an explicit registration.</summary>
[ModelComponent("Tests.NoLoader")]
internal sealed class NoLoaderTransformer : BatchTransformer, ISavableTransformer
{
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<Array> MapBatch(DataBatch input) => [];
    public void Save(ModelSaveContext context) { }
}

/// <summary>
/// A third party's component that does not implement the static ILoadableTransformer (say, it is built by a factory),
/// so the scan cannot find its loader: it is registered explicitly. Multiplies a float column by a factor.
/// </summary>
[ModelComponent("ThirdParty.Scale")]
internal sealed class ThirdPartyScaleTransformer(float factor) : BatchTransformer, ISavableTransformer
{
    public float Factor => factor;
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => ["Label"];
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [new("Scaled", NumberDataViewType.Single)];
    public override IReadOnlyList<Array> MapBatch(DataBatch input) => [Array.ConvertAll(input.Get<int>("Label"), v => v * factor)];
    public void Save(ModelSaveContext context) => context.WriteJson("factor.json", new ScaleSettings { Factor = factor });

    public sealed class ScaleSettings
    {
        public float Factor { get; set; }
    }

    private static int registered;

    /// <summary>Registers the loader once per process (registering a name twice is an error by design).</summary>
    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref registered, 1) == 0)
            ModelComponentRegistry.Register("ThirdParty.Scale", 1, context => new ThirdPartyScaleTransformer(context.ReadJson<ScaleSettings>("factor.json").Factor));
    }
}

/// <summary>Two classes claiming one name: the registry must refuse to pick one.</summary>
[ModelComponent("Tests.Duplicate")]
internal sealed class DuplicateNameOneTransformer : BatchTransformer, ISavableTransformer, ILoadableTransformer<DuplicateNameOneTransformer>
{
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<Array> MapBatch(DataBatch input) => [];
    public void Save(ModelSaveContext context) { }
    public static DuplicateNameOneTransformer Load(ModelLoadContext context) => new();
}

/// <summary>See <see cref="DuplicateNameOneTransformer"/>.</summary>
[ModelComponent("Tests.Duplicate")]
internal sealed class DuplicateNameTwoTransformer : BatchTransformer, ISavableTransformer, ILoadableTransformer<DuplicateNameTwoTransformer>
{
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema) => [];
    public override IReadOnlyList<Array> MapBatch(DataBatch input) => [];
    public void Save(ModelSaveContext context) { }
    public static DuplicateNameTwoTransformer Load(ModelLoadContext context) => new();
}

[TestClass]
public sealed class PersistenceComponentsTests
{
    [TestMethod]
    public void RegistryFindsTheTestAssemblysComponentsByScanning()
    {
        Assert.IsTrue(ModelComponentRegistry.IsRegistered("Tests.AddOffset"));
        Assert.IsTrue(ModelComponentRegistry.IsRegistered("Tests.LinearScore"));
        CollectionAssert.Contains(ModelComponentRegistry.RegisteredNames.ToList(), "Tests.ThrowsOnSave");
        Assert.IsFalse(ModelComponentRegistry.IsRegistered("Tests.Duplicate"), "a name claimed twice resolves to nothing");
        Assert.IsFalse(ModelComponentRegistry.IsRegistered("No.Such.Component"));
    }
}
