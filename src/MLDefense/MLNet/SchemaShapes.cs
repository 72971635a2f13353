using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.MLNet;

/// <summary>
/// Builds <see cref="SchemaShape"/>s and their columns, whose constructor and <c>SchemaShape.Create</c> are internal to
/// ML.NET: for estimators' <c>GetOutputSchema(SchemaShape)</c>, and for callers who want to ask an estimator what it
/// would produce for a data view's schema.
/// </summary>
public static class SchemaShapes
{
    /// <summary>The schema shape of a data view's schema (visible columns and their annotations' shapes), as ML.NET's pipelines pass it.</summary>
    public static SchemaShape From(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return new SchemaShape(schema.Where(c => !c.IsHidden)
            .Select(c => Of(c.Name, c.Type, new SchemaShape(c.Annotations.Schema.Select(a => Of(a.Name, a.Type))))));
    }

    /// <summary>The shape of a column of a data view's schema (kind, item type, key-ness; annotations not carried).</summary>
    internal static SchemaShape.Column Of(string name, DataViewType type, SchemaShape? annotations = null)
    {
        var kind = type is VectorDataViewType v ? (v.IsKnownSize ? SchemaShape.Column.VectorKind.Vector : SchemaShape.Column.VectorKind.VariableVector)
            : SchemaShape.Column.VectorKind.Scalar;
        var item = type is VectorDataViewType vector ? vector.ItemType : type;
        // As ML.NET's own SchemaShape.Create: a key column's item type is its raw number type, with isKey set.
        bool isKey = item is KeyDataViewType;
        if (isKey) item = item.RawType == typeof(uint) ? NumberDataViewType.UInt32 : item.RawType == typeof(ulong) ? NumberDataViewType.UInt64
            : item.RawType == typeof(ushort) ? NumberDataViewType.UInt16 : NumberDataViewType.Byte;
        return new SchemaShape.Column(name, kind, item, isKey, annotations);
    }

    /// <summary><paramref name="input"/> with <paramref name="added"/> appended (a column of the same name is replaced, as in a data view).</summary>
    internal static SchemaShape Append(SchemaShape input, IEnumerable<SchemaShape.Column> added)
    {
        var columns = input.ToDictionary(c => c.Name);
        foreach (var column in added) columns[column.Name] = column;
        return new SchemaShape(columns.Values);
    }
}
