using Microsoft.ML.Runtime;

namespace MLDefense.Defenses
{
    /// <summary>
    /// <c>ml.Transforms.Defenses</c>: the MLDefense defenses as ML.NET estimators, created in the environment of the
    /// MLContext the catalog belongs to (its seed, <see cref="Microsoft.ML.MLContext.GpuDeviceId"/> and log). Each
    /// defense adds its methods in its own folder (a flat overload and an <c>Options</c> overload).
    /// </summary>
    public sealed partial class DefensesCatalog
    {
        internal DefensesCatalog(IHostEnvironment environment) => Environment = environment;

        /// <summary>The environment estimators are created in.</summary>
        internal IHostEnvironment Environment { get; }
    }
}

namespace Microsoft.ML
{
    /// <summary>Adds <c>Defenses</c> to ML.NET's transforms catalog (in ML.NET's namespace, as ML.NET's own packages do, so <c>using Microsoft.ML;</c> finds it).</summary>
    public static class DefensesCatalogExtensions
    {
        extension(TransformsCatalog catalog)
        {
            /// <summary>The MLDefense defenses: <c>ml.Transforms.Defenses.Saec(...)</c>, ...</summary>
            public MLDefense.Defenses.DefensesCatalog Defenses => new(MLDefense.MLNet.EnvironmentSettings.Of(catalog));
        }
    }
}
