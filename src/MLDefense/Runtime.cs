using MLDefense.Data;
using Microsoft.ML;

namespace MLDefense;

/// <summary>Where an application asks MLDefense to train and infer.</summary>
public enum ComputeDevice
{
    /// <summary>The first CUDA GPU when the loaded libtorch has CUDA and a GPU is present, else the CPU.</summary>
    Auto,
    /// <summary>The CPU, even when a GPU is present.</summary>
    Cpu,
    /// <summary>The first CUDA GPU; asking for it where there is none is an error rather than a silent fall-back.</summary>
    Cuda,
}

/// <summary>
/// Process-wide settings of the engine for applications (the <c>mldefense</c> CLI, samples) that should not reach into
/// TorchSharp themselves: the intra-op thread count and the device a new <see cref="MLContext"/> uses.
/// </summary>
public static class Runtime
{
    /// <summary>The version of the libtorch TorchSharp runs on (<c>torch.__version__</c>).</summary>
    public static string TorchVersion => torch.__version__;

    /// <summary>The number of intra-op threads libtorch uses now.</summary>
    public static int Threads => torch.get_num_threads();

    /// <summary>Whether the loaded libtorch has CUDA and sees at least one GPU.</summary>
    public static bool CudaAvailable => torch.cuda.is_available() && torch.cuda.device_count() > 0;

    /// <summary>
    /// Sets libtorch's intra-op thread count. It matters: some builds start with one thread (OpenMP's default where
    /// <c>OMP_NUM_THREADS</c> or the container says so), which leaves the other cores idle during training.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 1.</exception>
    /// <exception cref="InvalidOperationException">libtorch did not take the setting.</exception>
    public static void Configure(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "The thread count must be at least 1.");
        torch.set_num_threads(threads);
        if (torch.get_num_threads() != threads)
            throw new InvalidOperationException($"libtorch runs {torch.get_num_threads()} intra-op threads where {threads} were asked for.");
    }

    /// <summary>
    /// An ML.NET context with a seed and a device choice, as MLDefense's components read it
    /// (<see cref="Microsoft.ML.MLContext.GpuDeviceId"/>, <see cref="Microsoft.ML.MLContext.FallbackToCpu"/>): Auto takes
    /// CUDA device 0 when there is one, Cpu never does, Cuda requires one.
    /// </summary>
    /// <exception cref="InvalidOperationException">Cuda was asked for and the loaded libtorch has no CUDA device.</exception>
    public static Microsoft.ML.MLContext CreateMLContext(int seed, ComputeDevice device)
    {
        var ml = new Microsoft.ML.MLContext(seed);
        switch (device)
        {
            case ComputeDevice.Cpu:
                break;
            case ComputeDevice.Cuda:
                RequireCuda();
                ml.GpuDeviceId = 0;
                ml.FallbackToCpu = false;
                break;
            case ComputeDevice.Auto:
                ml.GpuDeviceId = CudaAvailable ? 0 : null;
                ml.FallbackToCpu = true;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(device), device, "Unknown device.");
        }
        return ml;
    }

    private static void RequireCuda()
    {
        if (!CudaAvailable)
            throw new InvalidOperationException(
                "A CUDA device was asked for, but the loaded libtorch has no CUDA device (build with -p:MLDefenseTorchBackend=cuda, a CUDA TorchSharp package), or use --device cpu|auto.");
    }

    /// <summary>The device a context created for <paramref name="device"/> uses, as text (<c>cpu</c>, <c>cuda:0</c>).</summary>
    public static string DeviceName(ComputeDevice device) => device switch
    {
        ComputeDevice.Cpu => "cpu",
        ComputeDevice.Cuda => "cuda:0",
        _ => CudaAvailable ? "cuda:0" : "cpu",
    };
}
