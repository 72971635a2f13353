namespace MLDefense.Data.Tests;

/// <summary>How many tensors are alive, for the tests that prove work frees what it creates.</summary>
internal static class LiveTensors
{
    /// <summary>
    /// TorchSharp's count of <see cref="Tensor"/> objects neither disposed nor finalized, after a full collection — so
    /// that garbage waiting for the finalizer (TorchSharp's own layer constructors leave a few temporaries to it) is not
    /// counted, while every tensor still held by a module, an optimiser, a transformer or a leaked reference is.
    /// </summary>
    public static long Count()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return torch.Tensor.TotalCount;
    }
}
