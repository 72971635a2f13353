using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Data;

/// <summary>A classifier's probabilities column: what ML.NET's multiclass trainers and ApplyOnnxModel produce as <c>Score</c>.</summary>
internal static class ProbabilityColumns
{
    /// <summary>Checks that <paramref name="name"/> is a known-size Single vector of at least 2 (of <paramref name="classCount"/> when known); returns its length.</summary>
    internal static int Check(DataViewSchema schema, string name, int? classCount)
    {
        string expected = classCount is { } k ? $"a Single vector of {k} class probabilities" : "a Single vector [K] of class probabilities (K ≥ 2)";
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentException(
            $"Column '{name}' (the target model's probabilities) was not found; expected {expected}, e.g. a classifier's Score. The schema has: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (column.Type is not VectorDataViewType { IsKnownSize: true } vector || vector.ItemType != NumberDataViewType.Single || vector.Size < 2)
            throw new ArgumentException($"Column '{name}' (the target model's probabilities): expected {expected}, found {column.Type}.");
        if (classCount is { } count && vector.Size != count)
            throw new ArgumentException($"Column '{name}' (the target model's probabilities): expected {expected}, found {vector.Size}.");
        return vector.Size;
    }
}

/// <summary>How a label column holds class indices.</summary>
internal enum LabelKind
{
    /// <summary>Int32 values 0..K−1.</summary>
    Int32,
    /// <summary>A key (as <c>MapValueToKey</c> makes): 1..K, 0 = missing.</summary>
    Key,
}

/// <summary>Label columns as ML.NET pipelines carry them: a key type (MapValueToKey) or Int32 class indices.</summary>
internal static class LabelColumns
{
    /// <summary>Checks the label column; <paramref name="role"/> says what it is for ("the label the simple network learns").</summary>
    internal static LabelKind Check(DataViewSchema schema, string name, string role)
    {
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentException(
            $"Column '{name}' ({role}) was not found; expected a key (MapValueToKey) or Int32 class labels 0..K−1. The schema has: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (column.Type is KeyDataViewType key && key.RawType == typeof(uint)) return LabelKind.Key;
        if (column.Type.Equals(NumberDataViewType.Int32)) return LabelKind.Int32;
        throw new ArgumentException($"Column '{name}' ({role}): expected a UInt32 key (MapValueToKey) or Int32 class labels 0..K−1, found {column.Type}.");
    }

    /// <summary>The labels of a batch as class indices 0..K−1; a missing key fails naming the row.</summary>
    internal static int[] Classes(RowBatch batch, string name, LabelKind kind)
    {
        if (kind == LabelKind.Int32) return batch.Get<int>(name);
        var keys = batch.Get<uint>(name);
        var classes = new int[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            if (keys[i] == 0) throw new ArgumentException($"Column '{name}': row {batch.FirstPosition + i} has a missing label (key 0).");
            classes[i] = (int)(keys[i] - 1);
        }
        return classes;
    }
}
