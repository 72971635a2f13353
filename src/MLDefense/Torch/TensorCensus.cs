namespace MLDefense.Torch;

/// <summary>
/// How many tensors are alive, for checks that work frees what it creates. TorchSharp 0.107's own count
/// (<see cref="torch.Tensor.TotalCount"/>: tensors created and not yet disposed) never uncounts the tensor each
/// <see cref="TorchSharp.Modules.Parameter"/> is made from — the Parameter takes over its native handle, and a tensor without a handle is
/// not uncounted when it is disposed or finalized (measured: a Linear layer, made and disposed, leaves 2, its weight and
/// bias). MLDefense records the parameters of every network it builds, so <see cref="Live"/> is TorchSharp's count less
/// those: the tensors alive. Networks built outside MLDefense are recorded with <see cref="Record{T}"/>.
/// </summary>
public static class TensorCensus
{
    private static long parametersMade;

    /// <summary>Tensors alive: TorchSharp's count less one per parameter made (see the class remarks).</summary>
    public static long Live => torch.Tensor.TotalCount - Interlocked.Read(ref parametersMade);

    /// <summary>Records the parameters of a network just built; returns it.</summary>
    public static T Record<T>(T network) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(network);
        Interlocked.Add(ref parametersMade, network.parameters().LongCount());
        return network;
    }

    /// <summary>Records one parameter just made from a tensor; returns it.</summary>
    public static TorchSharp.Modules.Parameter Record(TorchSharp.Modules.Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        Interlocked.Increment(ref parametersMade);
        return parameter;
    }
}
