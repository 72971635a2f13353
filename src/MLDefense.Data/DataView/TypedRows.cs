using System.Reflection;

using MLDefense.Data;
namespace MLDefense.Legacy;

/// <summary>
/// Maps .NET classes to columns and back (<c>LoadFromEnumerable</c>, <c>CreateEnumerable</c>): public fields and
/// properties of type float, double, int, long, bool, string, and float[] (with <see cref="VectorTypeAttribute"/>
/// or <see cref="ImageTypeAttribute"/>), named by <see cref="ColumnNameAttribute"/>.
/// </summary>
public static class TypedRows
{
    private sealed record Member(MemberInfo Info, DataViewSchema.Column Column)
    {
        public Type ValueType => Info is PropertyInfo p ? p.PropertyType : ((FieldInfo)Info).FieldType;
        public object? Get(object row) => Info is PropertyInfo p ? p.GetValue(row) : ((FieldInfo)Info).GetValue(row);
        public void Set(object row, object? value)
        {
            if (Info is PropertyInfo p) p.SetValue(row, value); else ((FieldInfo)Info).SetValue(row, value);
        }
    }

    private static List<Member> Members(Type type, bool forWriting)
    {
        var members = new List<Member>();
        var candidates = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => forWriting ? p.CanWrite : p.CanRead).Cast<MemberInfo>()
            .Concat(type.GetFields(BindingFlags.Public | BindingFlags.Instance).Where(f => !forWriting || !f.IsInitOnly));
        foreach (var m in candidates)
        {
            if (m.GetCustomAttribute<NoColumnAttribute>() is not null) continue;
            var name = m.GetCustomAttribute<ColumnNameAttribute>()?.Name ?? m.Name;
            var valueType = m is PropertyInfo p ? p.PropertyType : ((FieldInfo)m).FieldType;
            members.Add(new Member(m, new DataViewSchema.Column(name, ColumnType(m, valueType, type), Annotations(m))));
        }
        if (members.Count == 0) throw new ArgumentException($"{type.Name} has no public fields or properties to map to columns.");
        return members;
    }

    private static DataViewSchema.Annotations? Annotations(MemberInfo m) =>
        m.GetCustomAttribute<ImageTypeAttribute>() is { } image ? new DataViewSchema.Annotations(image.Shape) : null;

    private static DataViewType ColumnType(MemberInfo m, Type valueType, Type owner)
    {
        if (valueType == typeof(float)) return NumberDataViewType.Single;
        if (valueType == typeof(double)) return NumberDataViewType.Double;
        if (valueType == typeof(int)) return NumberDataViewType.Int32;
        if (valueType == typeof(long)) return NumberDataViewType.Int64;
        if (valueType == typeof(bool)) return BooleanDataViewType.Instance;
        if (valueType == typeof(string)) return TextDataViewType.Instance;
        if (valueType == typeof(float[]))
        {
            if (m.GetCustomAttribute<ImageTypeAttribute>() is { } image) return image.Shape.VectorType;
            if (m.GetCustomAttribute<VectorTypeAttribute>() is { } vector) return new VectorDataViewType(vector.Dimensions);
            throw new ArgumentException($"{owner.Name}.{m.Name} is a float[]: give it [VectorType(...)] or [ImageType(...)] so its size is known.");
        }
        throw new ArgumentException($"{owner.Name}.{m.Name} has type {valueType.Name}, which maps to no column type (use float, double, int, long, bool, string or float[]).");
    }

    /// <summary>The schema a class maps to.</summary>
    public static DataViewSchema SchemaOf<T>() => new(Members(typeof(T), forWriting: false).Select(m => m.Column));

    /// <summary>Materialises rows of <typeparamref name="T"/> into an in-memory view.</summary>
    public static InMemoryDataView Load<T>(IEnumerable<T> rows) where T : class
    {
        var members = Members(typeof(T), forWriting: false);
        var list = rows as IReadOnlyList<T> ?? rows.ToList();
        var arrays = new Array[members.Count];
        for (int c = 0; c < members.Count; c++)
        {
            var column = members[c].Column;
            int per = DataBatch.ValuesPerRow(column);
            var array = Array.CreateInstance(InMemoryDataView.ElementType(column), (long)list.Count * per);
            for (int r = 0; r < list.Count; r++)
            {
                var value = members[c].Get(list[r] ?? throw new ArgumentException($"Row {r} is null."));
                if (column.Type is VectorDataViewType)
                {
                    var v = value as float[] ?? throw new ArgumentException($"Row {r}: column '{column.Name}' is null.");
                    if (v.Length != per) throw new ArgumentException($"Row {r}: column '{column.Name}' has {v.Length} values; its type {column.Type} needs {per}.");
                    Array.Copy(v, 0, array, (long)r * per, per);
                }
                else array.SetValue(value, r);
            }
            arrays[c] = array;
        }
        return new InMemoryDataView(new DataViewSchema(members.Select(m => m.Column)), arrays);
    }

    /// <summary>Reads the rows of a view as objects (members without a matching column keep their defaults only if optional).</summary>
    public static IEnumerable<T> Read<T>(IDataView view, bool ignoreMissingColumns = false) where T : class, new()
    {
        var members = Members(typeof(T), forWriting: true);
        var bound = new List<(Member Member, DataViewSchema.Column Column)>();
        foreach (var m in members)
        {
            var column = view.Schema.GetColumnOrNull(m.Column.Name);
            if (column is null)
            {
                if (ignoreMissingColumns) continue;
                throw new ArgumentOutOfRangeException(nameof(view), $"{typeof(T).Name}.{m.Info.Name} needs column '{m.Column.Name}', which the data does not have (it has: {view.Schema}).");
            }
            if (column.Type.RawType != m.ValueType)
                throw new ArgumentException($"Column '{column.Name}' holds {column.Type}, which cannot be read into {typeof(T).Name}.{m.Info.Name} ({m.ValueType.Name}).");
            if (m.Column.Type is VectorDataViewType mv && !mv.Equals(column.Type))
                throw new ArgumentException($"Column '{column.Name}' holds {column.Type} but {typeof(T).Name}.{m.Info.Name} declares {mv}.");
            bound.Add((m, column));
        }
        return Iterate();

        IEnumerable<T> Iterate()
        {
            foreach (var batch in view.GetBatches(256, bound.Select(b => b.Column.Name).ToArray()))
                for (int r = 0; r < batch.RowCount; r++)
                {
                    var row = new T();
                    foreach (var (m, c) in bound)
                    {
                        var values = batch.GetValues(c);
                        if (c.Type is VectorDataViewType v)
                        {
                            var copy = new float[v.Size];
                            Array.Copy(values, (long)r * v.Size, copy, 0, v.Size);
                            m.Set(row, copy);
                        }
                        else m.Set(row, values.GetValue(r));
                    }
                    yield return row;
                }
        }
    }
}
