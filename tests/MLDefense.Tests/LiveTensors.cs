
namespace MLDefense.Tests;

/// <summary>How many tensors are alive, for the tests that prove work frees what it creates.</summary>
internal static class LiveTensors
{
    /// <summary>
    /// <see cref="TensorCensus.Live"/> after a full collection, so that a tensor dropped without being disposed (by a
    /// test, or by TorchSharp) and waiting for the finalizer does not blur the count.
    /// </summary>
    public static long Count()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return TensorCensus.Live;
    }
}
