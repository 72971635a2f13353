using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>
/// The entry point, as ML.NET's MLContext: catalogs of operations (<see cref="Data"/>, <see cref="Transforms"/>,
/// <see cref="MulticlassClassification"/>, <see cref="Model"/>), the seed that makes training reproducible, the
/// device training runs on, and a log that long work reports to.
/// </summary>
public sealed class MLContext
{
    private readonly Random seeds;
    private readonly object seedLock = new();

    /// <summary>Creates a context; with a seed, everything random (splits, shuffles, initialisation) is reproducible.</summary>
    public MLContext(int? seed = null)
    {
        Seed = seed;
        seeds = seed is int s ? new Random(s) : new Random();
        Data = new DataOperationsCatalog(this);
        Transforms = new TransformsCatalog(this);
        MulticlassClassification = new MulticlassClassificationCatalog(this);
        Model = new ModelOperationsCatalog(this);
    }

    /// <summary>The seed given at construction, if any.</summary>
    public int? Seed { get; }

    /// <summary>Loading, splitting and shuffling data.</summary>
    public DataOperationsCatalog Data { get; }
    /// <summary>Transforms (image loading, defenses, attacks...).</summary>
    public TransformsCatalog Transforms { get; }
    /// <summary>Multiclass classification trainers (the image classifier).</summary>
    public MulticlassClassificationCatalog MulticlassClassification { get; }
    /// <summary>Saving, loading and serving models.</summary>
    public ModelOperationsCatalog Model { get; }

    /// <summary>
    /// The GPU to train on. Null (the default) means "the first GPU when the loaded libtorch has CUDA and one is
    /// present, else the CPU" — unlike ML.NET, where null means the CPU, because MLDefense promises GPU training
    /// where there is a GPU. Set <see cref="ForceCpu"/> to stay on the CPU.
    /// </summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>When a GPU was asked for by <see cref="GpuDeviceId"/> and none is usable: fall back to the CPU (true, as ML.NET) or fail.</summary>
    public bool FallbackToCpu { get; set; } = true;

    /// <summary>Train and infer on the CPU even when a GPU is present.</summary>
    public bool ForceCpu { get; set; }

    /// <summary>Messages from long-running work (training epochs, calibration...).</summary>
    public event EventHandler<LoggingEventArgs>? Log;

    /// <summary>The device components of this context use, resolved from the settings above.</summary>
    public Device Device
    {
        get
        {
            if (ForceCpu) return CPU;
            int available = torch.cuda.is_available() ? torch.cuda.device_count() : 0;
            if (GpuDeviceId is null) return available > 0 ? torch.device(DeviceType.CUDA, 0) : CPU;
            if (GpuDeviceId.Value >= 0 && GpuDeviceId.Value < available) return torch.device(DeviceType.CUDA, GpuDeviceId.Value);
            if (FallbackToCpu) return CPU;
            throw new InvalidOperationException(available == 0
                ? $"GPU {GpuDeviceId} was requested but the loaded libtorch has no CUDA device (build with -p:MLDefenseTorchBackend=cuda, a CUDA TorchSharp package), and FallbackToCpu is off."
                : $"GPU {GpuDeviceId} was requested but only {available} CUDA device(s) exist, and FallbackToCpu is off.");
        }
    }

    /// <summary>A fresh seed for a component, drawn from the context's seed (so runs with the same seed repeat).</summary>
    public int NextSeed()
    {
        lock (seedLock) return seeds.Next();
    }

    /// <summary>Reports a message to <see cref="Log"/>.</summary>
    public void WriteLog(string source, string message) => Log?.Invoke(this, new LoggingEventArgs(source, message));
}

/// <summary>A log message.</summary>
public sealed class LoggingEventArgs(string source, string message) : EventArgs
{
    /// <summary>The component that wrote it.</summary>
    public string Source { get; } = source;
    /// <summary>The text.</summary>
    public string Message { get; } = message;
    /// <inheritdoc />
    public override string ToString() => $"[{Source}] {Message}";
}

/// <summary>Base of the catalogs: they hold the context their extension methods use.</summary>
public abstract class CatalogBase(MLContext context)
{
    /// <summary>The owning context.</summary>
    public MLContext Context { get; } = context;
}

/// <summary>
/// Catalog of transforms; components add themselves through extension methods (<c>ml.Transforms.LoadImages</c>...).
/// The defenses and the attacks have sub-catalogs of their own, as ML.NET's <c>ml.Transforms.Text</c>.
/// </summary>
public sealed class TransformsCatalog : CatalogBase
{
    internal TransformsCatalog(MLContext context) : base(context)
    {
        Defenses = new DefensesCatalog(context);
    }

    /// <summary>The defenses (<c>ml.Transforms.Defenses.Saec()</c>...), added by the MLDefense assembly.</summary>
    public DefensesCatalog Defenses { get; }


    /// <summary>Sub-catalog extended with the defenses' estimators.</summary>
    public sealed class DefensesCatalog(MLContext context) : CatalogBase(context);
}

/// <summary>Multiclass classification: trainers are extension methods on <see cref="Trainers"/>.</summary>
public sealed class MulticlassClassificationCatalog : CatalogBase
{
    internal MulticlassClassificationCatalog(MLContext context) : base(context) => Trainers = new TrainersCatalog(context);

    /// <summary>The trainers (<c>ImageClassifier</c>).</summary>
    public TrainersCatalog Trainers { get; }

    /// <summary>The trainers sub-catalog.</summary>
    public sealed class TrainersCatalog(MLContext context) : CatalogBase(context);
}

/// <summary>Saving, loading and serving models (<c>Save</c>, <c>Load</c>, <c>CreatePredictionEngine</c>).</summary>
public sealed class ModelOperationsCatalog(MLContext context) : CatalogBase(context);
