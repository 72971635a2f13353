// The runtime half of the ML.NET bridge (the build half is MLDefense.MLNet.targets): this assembly is compiled
// against a copy of Microsoft.ML.Core whose persistence types are public, and this attribute tells the runtime to
// allow those accesses to the real assembly. Without it the runtime silently drops the LoadableClass attributes
// (GetCustomAttributes returns none) and Model.Load fails with "Couldn't load model: 'TransformerChain/Transform_00N'".
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]

namespace System.Runtime.CompilerServices
{
    /// <summary>
    /// Recognised by name by the .NET runtime (it is not in the public BCL): the declaring assembly may access the
    /// non-public types and members of the named assembly.
    /// </summary>
    [AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
    internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
    {
        /// <summary>The simple name of the assembly whose access checks are waived.</summary>
        public string AssemblyName { get; } = assemblyName;
    }
}
