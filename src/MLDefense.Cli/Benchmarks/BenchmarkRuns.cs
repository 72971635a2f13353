namespace MLDefense.Benchmarks;

/// <summary>
/// What the result of a multi-case benchmark (classifier, SAEC, AE-GAN, MIAED) says about the run that produced it, so
/// that the CLI captions and writes it one way.
/// </summary>
public interface IBenchmarkRun
{
    /// <summary>libtorch's intra-op threads during the run.</summary>
    int Threads { get; }

    /// <summary>Where the run computed (<c>cpu</c> or <c>cuda</c>).</summary>
    string Device { get; }

    /// <summary>The libtorch version.</summary>
    string TorchVersion { get; }

    /// <summary>The seed of every case.</summary>
    int Seed { get; }

    /// <summary>Wall-clock seconds of the whole run.</summary>
    double TotalSeconds { get; }
}

/// <summary>The loop the SAEC, AE-GAN and MIAED benchmarks share: their cases in order, each with a way to report its stages.</summary>
internal static class BenchmarkCases
{
    /// <summary>
    /// Runs <paramref name="runCase"/> on each of <paramref name="cases"/> in order and returns the results. A case reports a
    /// stage as (stage, detail, fraction); that report reaches <paramref name="progress"/> as
    /// <paramref name="progressOf"/>(case index, case count, case, stage, detail, fraction).
    /// </summary>
    public static List<TResult> RunInOrder<TCase, TProgress, TResult>(
        IReadOnlyList<TCase> cases, IProgress<TProgress>? progress, Func<int, int, TCase, string, string, double, TProgress> progressOf,
        Func<TCase, Action<string, string, double>, TResult> runCase)
    {
        var results = new List<TResult>(cases.Count);
        for (int index = 0; index < cases.Count; index++)
        {
            var c = cases[index];
            int caseIndex = index;
            results.Add(runCase(c, (stage, detail, fraction) => progress?.Report(progressOf(caseIndex, cases.Count, c, stage, detail, fraction))));
        }
        return results;
    }
}
