using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>Loading, splitting, shuffling and reading data, as ML.NET's <c>ml.Data</c>. Readers add themselves as extensions.</summary>
public sealed class DataOperationsCatalog(MLContext context) : CatalogBase(context)
{
    /// <summary>A view over objects (see <see cref="TypedRows"/> for the mapping); the rows are copied into memory.</summary>
    public IDataView LoadFromEnumerable<T>(IEnumerable<T> data) where T : class => TypedRows.Load(data);

    /// <summary>The rows of a view as objects of <typeparamref name="T"/>.</summary>
    public IEnumerable<T> CreateEnumerable<T>(IDataView data, bool ignoreMissingColumns = false) where T : class, new() =>
        TypedRows.Read<T>(data, ignoreMissingColumns);

    /// <summary>Reads a view into memory once, so that later passes (epochs) cost nothing.</summary>
    public IDataView Cache(IDataView data) => DataViews.Materialize(data);

    /// <summary>The first <paramref name="count"/> rows.</summary>
    public IDataView TakeRows(IDataView data, long count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be ≥ 0");
        long total = DataViews.CountRows(data);
        return DataViews.SelectRows(data, Enumerable.Range(0, (int)Math.Min(count, total)).ToArray());
    }

    /// <summary>All rows but the first <paramref name="count"/>.</summary>
    public IDataView SkipRows(IDataView data, long count)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "count must be ≥ 0");
        long total = DataViews.CountRows(data);
        int start = (int)Math.Min(count, total);
        return DataViews.SelectRows(data, Enumerable.Range(start, (int)total - start).ToArray());
    }

    /// <summary>The rows in a random order (seeded from the context unless <paramref name="seed"/> is given).</summary>
    public IDataView ShuffleRows(IDataView data, int? seed = null)
    {
        var order = Enumerable.Range(0, checked((int)DataViews.CountRows(data))).ToArray();
        new Random(seed ?? Context.NextSeed()).Shuffle(order);
        return DataViews.SelectRows(data, order);
    }

    /// <summary>Splits rows at random into a training and a test set (<paramref name="testFraction"/> of the rows in the test set).</summary>
    public TrainTestData TrainTestSplit(IDataView data, double testFraction = 0.1, int? seed = null)
    {
        if (testFraction is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "testFraction must be in (0, 1)");
        var order = Enumerable.Range(0, checked((int)DataViews.CountRows(data))).ToArray();
        new Random(seed ?? Context.NextSeed()).Shuffle(order);
        int testCount = (int)Math.Round(order.Length * testFraction);
        var test = order[..testCount];
        var train = order[testCount..];
        Array.Sort(test);
        Array.Sort(train);
        return new TrainTestData(DataViews.SelectRows(data, train), DataViews.SelectRows(data, test));
    }

    /// <summary>A training set and a test set.</summary>
    public sealed record TrainTestData(IDataView TrainSet, IDataView TestSet);
}
