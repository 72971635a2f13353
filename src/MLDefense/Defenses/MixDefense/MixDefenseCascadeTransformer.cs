using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Data;
using MLDefense.MLNet;

namespace MLDefense.Defenses;

/// <summary>
/// The fitted MixDefense cascade combiner (Yang et al., MixDefense, Fig. 1): <c>MixDefenseFlag</c> = first layer's flag ∨ second layer's
/// flag, <c>MixDefenseReason</c> = the rejecting layer (the first decides first) or empty. See <see cref="MixDefenseCascadeEstimator"/>.
/// Saved as its options only.
/// </summary>
public sealed class MixDefenseCascadeTransformer : BatchedTransformer, ILoadableComponent<MixDefenseCascadeTransformer>
{
    /// <summary>The name ML.NET's component catalog finds the loader by (<c>MLNet/LoadableComponents.cs</c>).</summary>
    internal const string LoaderSignature = "MLDefenseMixDefense";

    internal MixDefenseCascadeTransformer(MixDefenseCascadeOptions options) => Options = options;

    /// <summary>The column names and reasons.</summary>
    public MixDefenseCascadeOptions Options { get; }

    /// <summary>The decision for one input: (flagged, reason).</summary>
    public (bool Flag, string Reason) Combine(bool largePerturbationFlag, bool smallPerturbationFlag) =>
        largePerturbationFlag ? (true, Options.LargePerturbationReason)
        : smallPerturbationFlag ? (true, Options.SmallPerturbationReason)
        : (false, "");

    internal static DataViewSchema.DetachedColumn[] AddedColumns(MixDefenseCascadeOptions options) =>
    [
        new(options.FlagColumnName, BooleanDataViewType.Instance),
        new(options.ReasonColumnName, TextDataViewType.Instance),
    ];

    private protected override IRowBatchMapper Mapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        foreach (var (name, role) in MixDefenseCascadeEstimator.FlagColumns(Options))
        {
            var column = inputSchema.GetColumnOrNull(name) ?? throw new ArgumentException(
                $"Column '{name}' ({role}) was not found; expected a Boolean flag. The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
            if (column.Type != BooleanDataViewType.Instance)
                throw new ArgumentException($"Column '{name}' ({role}): expected a Boolean flag, found {column.Type}.");
        }
        return new BatchMapper(this);
    }

    private sealed class BatchMapper(MixDefenseCascadeTransformer owner) : IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.Options.LargePerturbationFlagColumnName, owner.Options.SmallPerturbationFlagColumnName];
        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } = AddedColumns(owner.Options);
        public int BatchSize => DefenseInference.ChunkSize;

        public IReadOnlyList<Array> MapBatch(RowBatch batch)
        {
            var first = batch.Get<bool>(owner.Options.LargePerturbationFlagColumnName);
            var second = batch.Get<bool>(owner.Options.SmallPerturbationFlagColumnName);
            var flags = new bool[batch.RowCount];
            var reasons = new ReadOnlyMemory<char>[batch.RowCount];
            for (int i = 0; i < flags.Length; i++)
            {
                var (flag, reason) = owner.Combine(first[i], second[i]);
                flags[i] = flag;
                reasons[i] = reason.AsMemory();
            }
            return [flags, reasons];
        }
    }

    static ComponentFormat ILoadableComponent<MixDefenseCascadeTransformer>.Format { get; } = new("MLDMIXD_", 1, LoaderSignature, "MixDefense cascade");

    private protected override void SaveModel(ModelSaveContext context) =>
        ComponentWriter.Write<MixDefenseCascadeTransformer>(context, writer => writer.WriteOptions(Options));

    static MixDefenseCascadeTransformer ILoadableComponent<MixDefenseCascadeTransformer>.Load(ComponentReader reader)
    {
        var options = reader.ReadOptions<MixDefenseCascadeOptions>();
        MixDefenseCascadeEstimator.CheckOptions(options);
        return new MixDefenseCascadeTransformer(options);
    }
}
