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

    /// <summary>
    /// Throws naming the column and the row when a class label is outside [0, K) (K = <paramref name="classCount"/>; with
    /// null only negative labels are refused); <paramref name="why"/>, when given, says where K comes from ("the length of 'Score'").
    /// </summary>
    internal static void CheckRange(ReadOnlySpan<int> labels, int? classCount, long firstRow, string name, string? why = null)
    {
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] < 0 || labels[i] >= classCount)
                throw new ArgumentException($"Column '{name}': expected class labels in [0, {classCount?.ToString() ?? "K"})" +
                    $"{(why is null ? "" : $" ({why})")}, found {labels[i]} in row {firstRow + i}.");
    }

    /// <summary>The column's KeyValues annotation (text or numbers), or null when it has none.</summary>
    internal static KeyValues? KeyValues(DataViewSchema.Column column)
    {
        if (column.Annotations.Schema.GetColumnOrNull("KeyValues") is not { Type: VectorDataViewType { ItemType: var item } }) return null;
        string[]? values = item.RawType switch
        {
            var t when t == typeof(ReadOnlyMemory<char>) => Read<ReadOnlyMemory<char>>(column, x => x.ToString()),
            var t when t == typeof(float) => Read<float>(column, x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
            var t when t == typeof(double) => Read<double>(column, x => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
            var t when t == typeof(int) => Read<int>(column, x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            var t when t == typeof(long) => Read<long>(column, x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            var t when t == typeof(uint) => Read<uint>(column, x => x.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            var t when t == typeof(bool) => Read<bool>(column, x => x.ToString()),
            _ => null,
        };
        return values is null ? null : new KeyValues(item.RawType == typeof(ReadOnlyMemory<char>) ? "Text" : item.RawType.Name, values);
    }

    private static string[] Read<T>(DataViewSchema.Column column, Func<T, string> format)
    {
        VBuffer<T> values = default;
        column.Annotations.GetValue("KeyValues", ref values);
        return values.DenseValues().Select(format).ToArray();
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

/// <summary>
/// A label column's key values (ML.NET's <c>KeyValues</c> annotation, which MapValueToKey records and MapKeyToValue
/// reads back), kept with a trained classifier so that its PredictedLabel maps back to the original labels after
/// save and load. Values are stored as invariant-culture text with their item type.
/// </summary>
/// <param name="ItemType">The annotation's item type: Text, Single, Double, Int32, Int64, UInt32 or Boolean.</param>
/// <param name="Values">One value per class.</param>
internal sealed record KeyValues(string ItemType, string[] Values)
{
    /// <summary>Annotations for a predicted-label key column (KeyValues) or, for text values, a score column (SlotNames).</summary>
    internal DataViewSchema.Annotations Annotations(bool slotNames)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        if (slotNames)
        {
            if (ItemType != "Text") return builder.ToAnnotations();
            builder.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, Values.Length),
                (ref VBuffer<ReadOnlyMemory<char>> v) => v = new(Values.Length, Values.Select(x => x.AsMemory()).ToArray()));
            return builder.ToAnnotations();
        }
        switch (ItemType)
        {
            case "Text": AddKeyValues(builder, TextDataViewType.Instance, Values.Select(x => x.AsMemory()).ToArray()); break;
            case "Single": Add(builder, NumberDataViewType.Single, float.Parse); break;
            case "Double": Add(builder, NumberDataViewType.Double, double.Parse); break;
            case "Int32": Add(builder, NumberDataViewType.Int32, int.Parse); break;
            case "Int64": Add(builder, NumberDataViewType.Int64, long.Parse); break;
            case "UInt32": Add(builder, NumberDataViewType.UInt32, uint.Parse); break;
            case "Boolean": AddKeyValues(builder, BooleanDataViewType.Instance, Values.Select(bool.Parse).ToArray()); break;
            default: throw new InvalidDataException($"Key values of type '{ItemType}' are not supported.");
        }
        return builder.ToAnnotations();
    }

    private void Add<T>(DataViewSchema.Annotations.Builder builder, PrimitiveDataViewType type, Func<string, System.Globalization.CultureInfo, T> parse) =>
        AddKeyValues(builder, type, Values.Select(x => parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray());

    private static void AddKeyValues<T>(DataViewSchema.Annotations.Builder builder, PrimitiveDataViewType type, T[] values) =>
        builder.Add("KeyValues", new VectorDataViewType(type, values.Length), (ref VBuffer<T> v) => v = new(values.Length, values.ToArray()));

    /// <summary>Checks a loaded record against the class count.</summary>
    internal void Check(int classCount)
    {
        if (Values.Length != classCount) throw new ArgumentException($"the label's key values list {Values.Length} classes, not {classCount}.");
        Annotations(slotNames: false);
    }
}
