namespace MLDefense.Torch;

/// <summary>An operation failed inside libtorch (bad shapes, dtypes, devices, indices...). Carries libtorch's message.</summary>
public sealed class TorchException : Exception
{
    /// <summary>Creates the exception for a failed operation.</summary>
    public TorchException(string operation, string nativeMessage)
        : base($"{operation}: {nativeMessage}")
    {
        Operation = operation;
        NativeMessage = nativeMessage;
    }

    /// <summary>The MLDefense operation that failed, e.g. <c>conv2d</c>.</summary>
    public string Operation { get; }

    /// <summary>libtorch's own message.</summary>
    public string NativeMessage { get; }
}
