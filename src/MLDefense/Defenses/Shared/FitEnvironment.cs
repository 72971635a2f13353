using Microsoft.ML.Runtime;
using MLDefense.MLNet;

namespace MLDefense.Defenses;

/// <summary>
/// Where a defense fits: the seed stream, the device and the log. From an ML.NET environment (the component's own
/// host: seeds drawn from the MLContext's seed, device from <see cref="Microsoft.ML.MLContext.GpuDeviceId"/>,
/// messages to <see cref="Microsoft.ML.MLContext.Log"/>).
/// </summary>
internal sealed class FitEnvironment
{
    private readonly Func<int> nextSeed;
    private readonly Action<string, string> log;
    private readonly Lazy<Device> device;

    private FitEnvironment(Func<int> nextSeed, Func<Device> device, Action<string, string> log) =>
        (this.nextSeed, this.device, this.log) = (nextSeed, new Lazy<Device>(device), log);

    /// <summary>The device training runs on.</summary>
    internal Device Device => device.Value;

    /// <summary>A fresh seed (the same sequence for the same context seed).</summary>
    internal int NextSeed() => nextSeed();

    /// <summary>Reports a message (a line starting with "warning:" is reported as an ML.NET warning).</summary>
    internal void Log(string source, string message) => log(source, message);

    internal static FitEnvironment From(IHostEnvironment environment, string name)
    {
        var host = environment.Register(name);
        return new(() => { lock (host) return host.Rand.Next(); }, () => EnvironmentSettings.Device(environment), (source, message) =>
        {
            using var channel = host.Start(source);
            if (message.StartsWith("warning:", StringComparison.Ordinal)) channel.Warning(MessageSensitivity.None, message);
            else channel.Info(MessageSensitivity.None, message);
        });
    }
}
