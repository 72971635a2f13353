using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Data;

namespace MLDefense.Tests.MLNet;

/// <summary>
/// ML.NET data views for tests, through ML.NET's public API only: images as a <c>Vector&lt;Single, C, H, W&gt;</c>
/// column (what ExtractPixels makes), labels as a key of K classes (what <c>LoadKnownDataset</c> makes), and the
/// columns read back as arrays.
/// </summary>
internal static class TestViews
{
    private static readonly MLContext Ml = new(seed: 0);

    private sealed class ImageRow
    {
        public float[] Image { get; set; } = [];
    }

    private sealed class LabelledRow
    {
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
    }

    /// <summary>Row-major pixels [N, C, H, W] as a one-column view named <paramref name="name"/>.</summary>
    public static IDataView Images(float[] pixels, ImageShape shape, string name = "Image")
    {
        if (pixels.Length % shape.Size != 0) throw new ArgumentException($"{pixels.Length} values are not whole {shape} images.", nameof(pixels));
        var definition = SchemaDefinition.Create(typeof(ImageRow));
        var image = definition[nameof(ImageRow.Image)];
        image.ColumnType = new VectorDataViewType(NumberDataViewType.Single, shape.Channels, shape.Height, shape.Width);
        image.ColumnName = name;
        var rows = Enumerable.Range(0, pixels.Length / shape.Size).Select(i => new ImageRow { Image = pixels.AsSpan(i * shape.Size, shape.Size).ToArray() }).ToArray();
        return Ml.Data.LoadFromEnumerable(rows, definition);
    }

    /// <summary>Images and their classes 0..K−1 as <c>Image</c> and <c>Label</c> (a key of <paramref name="classes"/> values).</summary>
    /// <remarks>LoadFromEnumerable takes a key column's values 0-based (class c is key c + 1; c ≥ K becomes the missing key 0).</remarks>
    public static IDataView Labelled(float[] pixels, int[] labels, ImageShape shape, int classes)
    {
        if (pixels.Length != labels.Length * shape.Size) throw new ArgumentException($"{pixels.Length} values are not {labels.Length} {shape} images.", nameof(pixels));
        var definition = SchemaDefinition.Create(typeof(LabelledRow));
        definition[nameof(LabelledRow.Image)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, shape.Channels, shape.Height, shape.Width);
        definition[nameof(LabelledRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), classes);
        var rows = labels.Select((label, i) => new LabelledRow { Image = pixels.AsSpan(i * shape.Size, shape.Size).ToArray(), Label = (uint)label }).ToArray();
        return Ml.Data.LoadFromEnumerable(rows, definition);
    }

    private sealed class MixedRow
    {
        public float[] Image { get; set; } = [];
        public uint Label { get; set; }
        public float FloatLabel { get; set; }
        public float[] Score { get; set; } = [];
    }

    /// <summary>
    /// Images with any of: class labels 0..K−1 (a key of <paramref name="classes"/> values), labels as Single (a wrong
    /// type, for bad-input tests), and a Single vector per row (e.g. a classifier's probabilities, <paramref name="scoreLength"/> each).
    /// </summary>
    public static IDataView Build(ImageShape shape, float[] pixels, int[]? labels = null, int classes = 0, float[]? scores = null, int scoreLength = 0,
        float[]? floatLabels = null, string imageName = "Image", string labelName = "Label", string scoreName = "Score")
    {
        int rows = pixels.Length / shape.Size;
        if (pixels.Length != rows * shape.Size) throw new ArgumentException($"{pixels.Length} values are not whole {shape} images.", nameof(pixels));
        var definition = SchemaDefinition.Create(typeof(MixedRow));
        // Columns are found by their member's name, so take them all before renaming any.
        var (image, label, floatLabel, score) = (definition[nameof(MixedRow.Image)], definition[nameof(MixedRow.Label)],
            definition[nameof(MixedRow.FloatLabel)], definition[nameof(MixedRow.Score)]);
        image.ColumnType = new VectorDataViewType(NumberDataViewType.Single, shape.Channels, shape.Height, shape.Width);
        image.ColumnName = imageName;
        if (labels is null) definition.Remove(label);
        else (label.ColumnType, label.ColumnName) = (new KeyDataViewType(typeof(uint), classes), labelName);
        if (floatLabels is null) definition.Remove(floatLabel);
        else floatLabel.ColumnName = labelName;
        if (scores is null) definition.Remove(score);
        else (score.ColumnType, score.ColumnName) = (new VectorDataViewType(NumberDataViewType.Single, scoreLength), scoreName);
        var data = Enumerable.Range(0, rows).Select(i => new MixedRow
        {
            Image = pixels.AsSpan(i * shape.Size, shape.Size).ToArray(),
            Label = labels is null ? 0 : (uint)labels[i],
            FloatLabel = floatLabels?[i] ?? 0,
            Score = scores is null ? [] : scores.AsSpan(i * scoreLength, scoreLength).ToArray(),
        }).ToArray();
        return Ml.Data.LoadFromEnumerable(data, definition);
    }

    /// <summary>The first <paramref name="rows"/> images of a known dataset's split (<c>ml.Data.LoadKnownDataset</c>), read into memory once.</summary>
    public static IDataView Known(string dataset, bool train, int rows, string? dataDirectory = null) =>
        Ml.Data.Cache(Ml.Data.TakeRows(Ml.Data.LoadKnownDataset(dataset, train, dataDirectory), rows));

    /// <summary>The first <paramref name="rows"/> rows.</summary>
    public static IDataView First(IDataView view, int rows) => Ml.Data.TakeRows(view, rows);

    /// <summary>A float column's values, row after row (a vector column's rows concatenated).</summary>
    public static float[] Floats(IDataView view, string column) =>
        view.Schema[column].Type is VectorDataViewType
            ? view.GetColumn<float[]>(column).SelectMany(values => values).ToArray()
            : view.GetColumn<float>(column).ToArray();

    /// <summary>A scalar column's values.</summary>
    public static T[] Values<T>(IDataView view, string column) => view.GetColumn<T>(column).ToArray();

    /// <summary>A label column's classes 0..K−1 (a key's value − 1).</summary>
    public static int[] Classes(IDataView view, string column = "Label") => view.GetColumn<uint>(column).Select(k => (int)k - 1).ToArray();


    /// <summary>Every visible column of <paramref name="view"/>, read in one pass (so a transform's columns come from one run of it).</summary>
    public static Columns Read(IDataView view) => new(MLNetWorkout.ReadAll(view));

    /// <summary>Columns read by <see cref="Read"/>.</summary>
    internal sealed class Columns(MLNetWorkout.Table table)
    {
        /// <summary>The rows read.</summary>
        public int Rows => table.Rows;

        /// <summary>A float column's values, row after row (a vector column's rows concatenated).</summary>
        public float[] Floats(string column) => [.. Column(column).SelectMany(v => v is float[] values ? values : [(float)v])];

        /// <summary>A Boolean column's values.</summary>
        public bool[] Bools(string column) => [.. Column(column).Cast<bool>()];

        /// <summary>A key column's classes 0..K−1 (a key's value − 1).</summary>
        public int[] Classes(string column) => [.. Column(column).Cast<uint>().Select(k => (int)k - 1)];

        private List<object> Column(string column) =>
            table.Columns.TryGetValue(column, out var values) ? values : throw new KeyNotFoundException($"No column '{column}'; the view has {string.Join(", ", table.Columns.Keys)}.");
    }
}
