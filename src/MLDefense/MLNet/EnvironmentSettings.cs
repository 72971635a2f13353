using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLDefense.MLNet;

/// <summary>
/// What an ML.NET environment says about where and how to run, read as Microsoft.ML.TorchSharp reads it:
/// <see cref="MLContext.GpuDeviceId"/> and <see cref="MLContext.FallbackToCpu"/> (ML.NET hands components the
/// context's internal environment, whose interface carrying them is internal), and the environment behind a catalog.
/// </summary>
public static class EnvironmentSettings
{
    /// <summary>
    /// The TorchSharp device for an environment: <c>cuda:N</c> when <see cref="MLContext.GpuDeviceId"/> is N and CUDA is
    /// available; the CPU when no GPU is asked for, or when one is asked for but CUDA is unavailable and
    /// <see cref="MLContext.FallbackToCpu"/> is true; otherwise an <see cref="InvalidOperationException"/> saying so.
    /// </summary>
    public static Device Device(IHostEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (environment is not IHostEnvironmentInternal settings || settings.GpuDeviceId is not { } gpu) return torch.CPU;
        if (torch.cuda.is_available() && gpu < torch.cuda.device_count()) return torch.device(DeviceType.CUDA, gpu);
        if (settings.FallbackToCpu) return torch.CPU;
        throw new InvalidOperationException(
            $"MLContext.GpuDeviceId is {gpu} but {(torch.cuda.is_available() ? $"only {torch.cuda.device_count()} CUDA device(s) exist" : "CUDA is not available (this build references the CPU libtorch; see the README's Building section)")}, " +
            "and MLContext.FallbackToCpu is false. Set FallbackToCpu = true to run on the CPU.");
    }

    /// <summary>
    /// The environment behind one of ML.NET's catalogs, what ML.NET's own catalog extensions pass to their estimators
    /// (an explicit implementation of ML.NET's internal <c>IInternalCatalog.Environment</c>, reached by name).
    /// </summary>
    public static IHostEnvironment Of(TransformsCatalog catalog) => TransformsEnvironment(catalog ?? throw new ArgumentNullException(nameof(catalog)));

    /// <inheritdoc cref="Of(TransformsCatalog)"/>
    public static IHostEnvironment Of(MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog) =>
        TrainersEnvironment(catalog ?? throw new ArgumentNullException(nameof(catalog)));

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Microsoft.ML.Data.IInternalCatalog.get_Environment")]
    private static extern IHostEnvironment TransformsEnvironment(TransformsCatalog catalog);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Microsoft.ML.Data.IInternalCatalog.get_Environment")]
    private static extern IHostEnvironment TrainersEnvironment(TrainCatalogBase.CatalogInstantiatorBase catalog);
}
