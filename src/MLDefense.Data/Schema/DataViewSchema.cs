using System.Collections;

using MLDefense.Data;
namespace MLDefense.Legacy;

/// <summary>The columns of a data view: names, types and annotations, as in ML.NET. Immutable.</summary>
public sealed class DataViewSchema : IReadOnlyList<DataViewSchema.Column>
{
    private readonly Column[] columns;

    /// <summary>Creates a schema. Later columns hide earlier ones of the same name (as in ML.NET).</summary>
    public DataViewSchema(IEnumerable<Column> columns)
    {
        this.columns = columns.Select((c, i) => c with { Index = i }).ToArray();
    }

    /// <summary>Number of columns (hidden ones included).</summary>
    public int Count => columns.Length;

    /// <summary>The column at an index.</summary>
    public Column this[int index] => columns[index];

    /// <summary>The visible column of a name; throws naming the available columns when there is none.</summary>
    public Column this[string name] => GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException(nameof(name),
        $"Column '{name}' was not found; the schema has: {string.Join(", ", columns.Where(c => !c.IsHidden(this)).Select(c => $"{c.Name} ({c.Type})"))}.");

    /// <summary>The visible column of a name, or null.</summary>
    public Column? GetColumnOrNull(string name)
    {
        for (int i = columns.Length - 1; i >= 0; i--)
            if (columns[i].Name == name) return columns[i];
        return null;
    }

    /// <summary>Visible columns only.</summary>
    public IEnumerable<Column> Visible => columns.Where(c => !c.IsHidden(this));

    /// <inheritdoc />
    public IEnumerator<Column> GetEnumerator() => ((IEnumerable<Column>)columns).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>True when both schemas have the same visible columns (names, types, annotations) in the same order.</summary>
    public bool SameAs(DataViewSchema other) => Visible.Select(c => c with { Index = 0 }).SequenceEqual(other.Visible.Select(c => c with { Index = 0 }));

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", Visible.Select(c => c.ToString()));

    /// <summary>A new schema with columns appended.</summary>
    public DataViewSchema Append(params Column[] added) => new(columns.Concat(added));

    /// <summary>One column.</summary>
    public sealed record Column(string Name, DataViewType Type, Annotations? Annotations = null)
    {
        /// <summary>Position in the schema.</summary>
        public int Index { get; init; }

        /// <summary>The image shape annotation, if this is an image column.</summary>
        public ImageShape? ImageShape => Annotations?.ImageShape;

        internal bool IsHidden(DataViewSchema schema) => schema.GetColumnOrNull(Name)?.Index != Index;

        /// <inheritdoc />
        public bool Equals(Column? other) => other is not null && Name == other.Name && Type.Equals(other.Type) && Index == other.Index
                                              && Equals(Annotations ?? Annotations.Empty, other.Annotations ?? Annotations.Empty);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(Name, Type, Index);

        /// <inheritdoc />
        public override string ToString() => ImageShape is { } s ? $"{Name}: Image {s}" : $"{Name}: {Type}";
    }

    /// <summary>Annotations of a column (ML.NET's metadata): the image shape, slot names (e.g. class names).</summary>
    public sealed record Annotations(ImageShape? ImageShape = null, IReadOnlyList<string>? SlotNames = null)
    {
        /// <summary>The key under which persisted schemas store the image shape.</summary>
        public const string ImageShapeKey = "ImageShape";

        /// <summary>No annotations.</summary>
        public static Annotations Empty { get; } = new();

        /// <inheritdoc />
        public bool Equals(Annotations? other) => other is not null && Equals(ImageShape, other.ImageShape)
            && (SlotNames ?? []).SequenceEqual(other.SlotNames ?? []);

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(ImageShape, SlotNames?.Count ?? 0);
    }
}
