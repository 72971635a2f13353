namespace MLDefense.Benchmarks;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the thread that reports: <see cref="Progress{T}"/> would post each
/// report to the thread pool, which reorders them and, in a console app, races the progress display.
/// </summary>
/// <typeparam name="T">The report.</typeparam>
/// <param name="report">Called with each report.</param>
public sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    /// <inheritdoc />
    public void Report(T value) => report(value);
}
