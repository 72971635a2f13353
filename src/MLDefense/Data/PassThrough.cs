using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Data;

/// <summary>
/// Copies of an input column's values for the rows of a batch, so that a cursor reading ahead can still serve them:
/// a deep copy (vectors own their arrays, text its characters), because ML.NET getters may reuse their buffers.
/// Class-typed values (images) are not copied (see <see cref="BatchedDataView"/>).
/// </summary>
internal abstract class PassThrough
{
    /// <summary>Whether values of this type can be held across MoveNext by copying.</summary>
    internal static bool CanCopy(DataViewType type) => type.RawType.IsValueType;

    internal static PassThrough For(DataViewRow row, DataViewSchema.Column column, int capacity)
    {
        var raw = column.Type.RawType;
        var slot = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? typeof(VectorCopies<>).MakeGenericType(raw.GetGenericArguments()[0])
            : typeof(ValueCopies<>).MakeGenericType(raw);
        return (PassThrough)Activator.CreateInstance(slot, row, column, capacity)!;
    }

    /// <summary>Copies the row's current value into slot <paramref name="index"/>.</summary>
    internal abstract void Capture(int index);

    /// <summary>A getter serving slot <paramref name="rowOf"/>() of the batch.</summary>
    internal abstract ValueGetter<TValue> Getter<TValue>(Func<int> rowOf);

    private static T Own<T>(T value) => value is ReadOnlyMemory<char> text ? (T)(object)text.ToString().AsMemory() : value;

    private sealed class ValueCopies<T>(DataViewRow row, DataViewSchema.Column column, int capacity) : PassThrough
    {
        private readonly ValueGetter<T> source = row.GetGetter<T>(column);
        private readonly T[] values = new T[capacity];

        internal override void Capture(int index)
        {
            T value = default!;
            source(ref value);
            values[index] = Own(value);
        }

        internal override ValueGetter<TValue> Getter<TValue>(Func<int> rowOf) =>
            (ValueGetter<TValue>)(Delegate)(ValueGetter<T>)((ref T value) => value = values[rowOf()]);
    }

    private sealed class VectorCopies<T>(DataViewRow row, DataViewSchema.Column column, int capacity) : PassThrough
    {
        private readonly ValueGetter<VBuffer<T>> source = row.GetGetter<VBuffer<T>>(column);
        private readonly VBuffer<T>[] values = new VBuffer<T>[capacity];
        private VBuffer<T> scratch;

        internal override void Capture(int index)
        {
            source(ref scratch);
            var target = values[index];
            scratch.CopyTo(ref target);
            if (typeof(T) == typeof(ReadOnlyMemory<char>))
            {
                var editor = VBufferEditor.CreateFromBuffer(ref target);
                for (int i = 0; i < editor.Values.Length; i++) editor.Values[i] = Own(editor.Values[i]);
            }
            values[index] = target;
        }

        internal override ValueGetter<TValue> Getter<TValue>(Func<int> rowOf) =>
            (ValueGetter<TValue>)(Delegate)(ValueGetter<VBuffer<T>>)((ref VBuffer<T> value) => values[rowOf()].CopyTo(ref value));
    }
}
