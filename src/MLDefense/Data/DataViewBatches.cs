using Microsoft.ML;

namespace MLDefense.Data;

/// <summary>Reading a data view's columns in batches, as an estimator's Fit consumes its training data.</summary>
internal static class DataViewBatches
{
    /// <summary>
    /// The rows of <paramref name="view"/> in order, <paramref name="batchSize"/> at a time (the last batch may be
    /// shorter), holding the named columns (see <see cref="RowBatch"/> for the layout). One cursor, opened lazily.
    /// </summary>
    internal static IEnumerable<RowBatch> Read(IDataView view, IReadOnlyList<string> columns, int batchSize, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(view);
        var needed = columns.Select(name => view.Schema.GetColumnOrNull(name) ?? throw new ArgumentException($"Column '{name}' was not found in the data.")).ToArray();
        using var cursor = view.GetRowCursor(needed);
        var inputs = new BatchInputs(cursor, columns, batchSize);
        long first = 0;
        while (true)
        {
            cancellation.ThrowIfCancellationRequested();
            int count = 0;
            while (count < batchSize && cursor.MoveNext()) inputs.Capture(count++);
            if (count == 0) yield break;
            yield return inputs.ToBatch(first, count);
            first += count;
        }
    }
}
