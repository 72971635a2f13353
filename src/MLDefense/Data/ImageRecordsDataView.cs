using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Data;

/// <summary>
/// Labelled images as a lazy ML.NET data view: a dataset of fixed-size records (IDX, CIFAR-10 binary), whose
/// decompressed file bytes stay as they are and whose row's pixels become floats (byte / 255, as torchvision's
/// ToTensor) only when a cursor reads them — or images already in floats (attacked images, <see cref="FromPixels"/>). Columns: <c>Image</c>, Single [C, H, W] planar (what ExtractPixels makes), and <c>Label</c>, a key
/// of K classes whose key values are the class names (so MapKeyToValue gives "Sneaker"). Shuffling cursors visit a
/// permutation drawn from the cursor's random source.
/// </summary>
internal sealed class ImageRecordsDataView : IDataView
{
    private readonly Action<long, Span<float>> readPixels;
    private readonly int[] labels;
    private readonly int imageSize;

    /// <param name="shape">The image shape of every record.</param>
    /// <param name="labels">The class of every record, 0..K−1 (checked by the file reader).</param>
    /// <param name="readPixels">Writes the pixels of row i, [C, H, W] planar in [0, 1], into the span.</param>
    /// <param name="classNames">The K class names; null for images without a label column (the labels then only count the rows).</param>
    /// <param name="imageColumnName">The image column's name.</param>
    /// <param name="labelColumnName">The label column's name.</param>
    internal ImageRecordsDataView(ImageShape shape, int[] labels, Action<long, Span<float>> readPixels, IReadOnlyList<string>? classNames,
        string imageColumnName = "Image", string labelColumnName = "Label")
    {
        ArgumentException.ThrowIfNullOrEmpty(imageColumnName);
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        if (imageColumnName == labelColumnName) throw new ArgumentException($"The image and label columns need different names (both are '{imageColumnName}').");
        (this.labels, this.readPixels, imageSize) = (labels, readPixels, shape.Size);
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(imageColumnName, new VectorDataViewType(NumberDataViewType.Single, shape.Channels, shape.Height, shape.Width));
        if (classNames is not null)
        {
            var names = classNames.Select(n => n.AsMemory()).ToArray();
            var keyValues = new DataViewSchema.Annotations.Builder();
            keyValues.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, names.Length), (ref VBuffer<ReadOnlyMemory<char>> v) => v = new(names.Length, names.ToArray()));
            builder.AddColumn(labelColumnName, new KeyDataViewType(typeof(uint), names.Length), keyValues.ToAnnotations());
        }
        Schema = builder.ToSchema();
    }

    /// <inheritdoc />
    public DataViewSchema Schema { get; }

    /// <inheritdoc />
    public bool CanShuffle => true;

    /// <inheritdoc />
    public long? GetRowCount() => labels.Length;

    /// <inheritdoc />
    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var active = new bool[Schema.Count];
        foreach (var column in columnsNeeded) active[column.Index] = true;
        int[]? order = null;
        if (rand is not null)
        {
            order = Enumerable.Range(0, labels.Length).ToArray();
            rand.Shuffle(order);
        }
        return new Cursor(this, active, order);
    }

    /// <inheritdoc />
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [GetRowCursor(columnsNeeded, rand)];

    private static readonly float[] UnitFloats = Enumerable.Range(0, 256).Select(i => i / 255f).ToArray();

    /// <summary>Rows whose pixels are the bytes <paramref name="bytesOf"/>(i) gives, converted as byte / 255.</summary>
    internal static ImageRecordsDataView FromBytes(ImageShape shape, int[] labels, Func<long, ReadOnlyMemory<byte>> bytesOf, IReadOnlyList<string> classNames) =>
        new(shape, labels, (row, target) =>
        {
            var bytes = bytesOf(row).Span;
            for (int i = 0; i < bytes.Length; i++) target[i] = UnitFloats[bytes[i]];
        }, classNames);

    /// <summary>Rows of images already in floats (row-major [N, C, H, W]), e.g. attacked images, with their labels and class names.</summary>
    internal static ImageRecordsDataView FromPixels(ImageShape shape, float[] pixels, int[] labels, IReadOnlyList<string> classNames, string labelColumnName = "Label")
    {
        if (pixels.Length != (long)labels.Length * shape.Size)
            throw new ArgumentException($"{pixels.Length} pixel values do not make {labels.Length} images of {shape}.", nameof(pixels));
        return new(shape, labels, (row, target) => pixels.AsSpan((int)row * shape.Size, shape.Size).CopyTo(target), classNames, labelColumnName: labelColumnName);
    }

    /// <summary>A one-column view of images already in floats (row-major [N, C, H, W]): what a detector scores.</summary>
    internal static ImageRecordsDataView ImagesOnly(ImageShape shape, float[] pixels, string imageColumnName = "Image")
    {
        if (pixels.Length % shape.Size != 0)
            throw new ArgumentException($"{pixels.Length} pixel values are not a whole number of {shape} images.", nameof(pixels));
        return new(shape, new int[pixels.Length / shape.Size], (row, target) => pixels.AsSpan((int)row * shape.Size, shape.Size).CopyTo(target),
                   classNames: null, imageColumnName);
    }

    private sealed class Cursor(ImageRecordsDataView view, bool[] active, int[]? order) : DataViewRowCursor
    {
        private long position = -1;

        public override DataViewSchema Schema => view.Schema;
        public override long Position => position;
        public override long Batch => 0;

        private long Row => position >= 0 && position < view.labels.Length
            ? order?[position] ?? position
            : throw new InvalidOperationException("The cursor is not on a row: call MoveNext first (and stop when it returns false).");

        public override bool MoveNext()
        {
            if (position >= view.labels.Length) return false;
            return ++position < view.labels.Length;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => active[column.Index];

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)Row, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column)) throw new InvalidOperationException($"Column '{column.Name}' is not active in this cursor: list it in the columns needed.");
            if (column.Type.RawType != typeof(TValue))
                throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}; a getter of {typeof(TValue).Name} cannot read it.");
            if (column.Index == 1)
                return (ValueGetter<TValue>)(Delegate)(ValueGetter<uint>)((ref uint key) => key = (uint)view.labels[Row] + 1);
            return (ValueGetter<TValue>)(Delegate)(ValueGetter<VBuffer<float>>)((ref VBuffer<float> value) =>
            {
                var editor = VBufferEditor.Create(ref value, view.imageSize);
                view.readPixels(Row, editor.Values);
                value = editor.Commit();
            });
        }
    }
}
