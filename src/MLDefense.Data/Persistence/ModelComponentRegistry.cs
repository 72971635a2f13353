using System.Reflection;
using System.Text.RegularExpressions;

using MLDefense.Data;
namespace MLDefense.Legacy;

/// <summary>
/// Maps the component names recorded in a model zip to the code that loads them. Components register themselves by
/// carrying <see cref="ModelComponentAttribute"/> and implementing <see cref="ILoadableTransformer{TSelf}"/>: the
/// registry finds them in the assemblies loaded into the process (scanned lazily, and again when a name is not found,
/// so an assembly loaded later — a third party's — is picked up). A component that cannot implement the static
/// interface registers a loader explicitly with <see cref="Register(string, int, Func{ModelLoadContext, ISavableTransformer})"/>.
/// </summary>
/// <remarks>
/// The registry never turns a name from a file into a type (<c>Type.GetType</c>): a file can only select among the
/// loaders that code running in the process declared, so a tampered zip cannot make the loader instantiate an
/// arbitrary class. All members are thread-safe.
/// </remarks>
public static partial class ModelComponentRegistry
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, List<ModelComponentRegistration>> ByName = new(StringComparer.Ordinal);
    private static readonly HashSet<Assembly> ScannedAssemblies = [];
    private static readonly MethodInfo LoadThroughInterfaceMethod = typeof(InterfaceLoader).GetMethod(nameof(InterfaceLoader.Load))!;

    /// <summary>
    /// Registers a loader for a component name explicitly (for components whose class does not implement
    /// <see cref="ILoadableTransformer{TSelf}"/>). The component's class must still carry
    /// <see cref="ModelComponentAttribute"/> with this name so that it can be saved.
    /// </summary>
    /// <param name="name">The registered name (letters, digits, '.', '_', '-').</param>
    /// <param name="version">The highest format version the loader reads (at least 1).</param>
    /// <param name="loader">Rebuilds the component from its folder.</param>
    /// <exception cref="InvalidOperationException">The name is already registered.</exception>
    public static void Register(string name, int version, Func<ModelLoadContext, ISavableTransformer> loader)
    {
        ArgumentNullException.ThrowIfNull(loader);
        ValidateName(name, "Register");
        if (version < 1) throw new ArgumentOutOfRangeException(nameof(version), version, "A component version is at least 1.");
        lock (Gate)
        {
            ScanNewAssemblies();
            if (ByName.TryGetValue(name, out var existing) && existing.Count > 0)
                throw new InvalidOperationException($"Model component name '{name}' is already registered (by {Describe(existing[0])}); component names must be unique.");
            Add(new ModelComponentRegistration(name, version, loader, ComponentType: null));
        }
    }

    /// <summary>Registers a component class by its <see cref="ModelComponentAttribute"/> (useful before its assembly would be scanned).</summary>
    /// <exception cref="InvalidOperationException">The class has no attribute, or its name is taken by another loader.</exception>
    public static void Register<TComponent>() where TComponent : class, ISavableTransformer, ILoadableTransformer<TComponent>
    {
        var attribute = typeof(TComponent).GetCustomAttribute<ModelComponentAttribute>(inherit: false)
            ?? throw new InvalidOperationException($"{typeof(TComponent).FullName} has no [ModelComponent] attribute.");
        ValidateName(attribute.Name, typeof(TComponent).FullName!);
        lock (Gate)
        {
            ScanNewAssemblies();
            if (ByName.TryGetValue(attribute.Name, out var existing) && existing.Count > 0)
            {
                // Registering a class the scan already found is harmless; anything else is a clash.
                if (existing.Count == 1 && existing[0].ComponentType == typeof(TComponent)) return;
                throw new InvalidOperationException($"Model component name '{attribute.Name}' is already registered (by {Describe(existing[0])}); component names must be unique.");
            }
            Add(FromType(typeof(TComponent), attribute));
        }
    }

    /// <summary>Whether a name has exactly one loader.</summary>
    public static bool IsRegistered(string name)
    {
        lock (Gate) return FindLocked(name) is { Count: 1 };
    }

    /// <summary>The registered names (after scanning the assemblies loaded so far).</summary>
    public static IReadOnlyList<string> RegisteredNames
    {
        get
        {
            lock (Gate)
            {
                ScanNewAssemblies();
                return ByName.Where(kv => kv.Value.Count > 0).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
            }
        }
    }

    /// <summary>The registration of a name; throws a clear error when it is unknown or claimed twice.</summary>
    internal static ModelComponentRegistration Resolve(string name)
    {
        List<ModelComponentRegistration>? found;
        lock (Gate) found = FindLocked(name)?.ToList();
        if (found is null || found.Count == 0)
            throw new InvalidDataException($"The model uses component '{name}', which no loaded assembly registers. Load the assembly that defines it " +
                "(its class carries [ModelComponent(\"" + name + "\")]) or call ModelComponentRegistry.Register before loading.");
        if (found.Count > 1)
            throw new InvalidOperationException($"Model component name '{name}' is claimed by {string.Join(" and ", found.Select(Describe))}; component names must be unique.");
        return found[0];
    }

    /// <summary>The attribute of a component's class; throws naming the type when it has none.</summary>
    internal static ModelComponentAttribute AttributeOf(ITransformer transformer)
    {
        var type = transformer.GetType();
        if (transformer is not ISavableTransformer)
            throw new InvalidOperationException($"{type.FullName} cannot be saved: it does not implement ISavableTransformer (and carry [ModelComponent]).");
        var attribute = type.GetCustomAttribute<ModelComponentAttribute>(inherit: false)
            ?? throw new InvalidOperationException($"{type.FullName} cannot be saved: it implements ISavableTransformer but its class has no [ModelComponent(name, version)] attribute.");
        ValidateName(attribute.Name, type.FullName!);
        if (attribute.Version < 1)
            throw new InvalidOperationException($"{type.FullName} cannot be saved: its [ModelComponent] version is {attribute.Version}; versions start at 1.");
        return attribute;
    }

    private static List<ModelComponentRegistration>? FindLocked(string name)
    {
        if (ByName.TryGetValue(name, out var found) && found.Count > 0) return found;
        // A miss may mean an assembly was loaded since the last scan (a plug-in, a third party's components).
        ScanNewAssemblies();
        if (ByName.TryGetValue(name, out found) && found.Count > 0) return found;
        // Or that the application ships the assembly but has not touched it yet: .NET loads an assembly only when code
        // uses one of its types, so an app that only loads a zip has never loaded MLDefense.Defenses.
        if (LoadApplicationComponentAssemblies()) ScanNewAssemblies();
        return ByName.GetValueOrDefault(name);
    }

    private static bool applicationAssembliesLoaded;

    /// <summary>
    /// Loads, once, every assembly in the application's folder that references this one (the only ones that can declare
    /// components), reading references from the metadata without loading the others. Returns whether it loaded any.
    /// </summary>
    private static bool LoadApplicationComponentAssemblies()
    {
        if (applicationAssembliesLoaded) return false;
        applicationAssembliesLoaded = true;
        var dataAssemblyName = typeof(ModelComponentRegistry).Assembly.GetName().Name;
        var loaded = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        bool any = false;
        string folder = AppContext.BaseDirectory;
        if (!Directory.Exists(folder)) return false;
        foreach (var path in Directory.EnumerateFiles(folder, "*.dll"))
        {
            if (loaded.Contains(Path.GetFileNameWithoutExtension(path)) || !ReferencesAssembly(path, dataAssemblyName!)) continue;
            try
            {
                Assembly.Load(AssemblyName.GetAssemblyName(path));
                any = true;
            }
            catch (Exception e) when (e is IOException or BadImageFormatException)
            {
                // Not loadable here (another runtime's assembly): it cannot register components in this process.
            }
        }
        return any;
    }

    private static bool ReferencesAssembly(string path, string referencedName)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
            if (!pe.HasMetadata) return false;
            var metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
            return metadata.AssemblyReferences.Any(h => metadata.GetString(metadata.GetAssemblyReference(h).Name) == referencedName);
        }
        catch (Exception e) when (e is IOException or BadImageFormatException or InvalidOperationException)
        {
            return false;
        }
    }

    private static void ScanNewAssemblies()
    {
        var dataAssemblyName = typeof(ModelComponentRegistry).Assembly.GetName().Name;
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (!ScannedAssemblies.Add(assembly)) continue;
            // Only assemblies that can see the attribute can declare components; skipping the rest keeps the scan cheap.
            if (assembly != typeof(ModelComponentRegistry).Assembly && assembly.GetReferencedAssemblies().All(r => r.Name != dataAssemblyName))
                continue;
            foreach (var type in LoadableTypes(assembly))
            {
                if (type.IsAbstract || type.IsGenericTypeDefinition) continue;
                var attribute = type.GetCustomAttribute<ModelComponentAttribute>(inherit: false);
                if (attribute is null || !typeof(ISavableTransformer).IsAssignableFrom(type)) continue;
                if (!typeof(ILoadableTransformer<>).MakeGenericType(type).IsAssignableFrom(type)) continue;
                if (!NamePattern().IsMatch(attribute.Name) || attribute.Version < 1) continue; // Save reports these against the type.
                Add(FromType(type, attribute));
            }
        }
    }

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try { return assembly.GetTypes(); }
        catch (ReflectionTypeLoadException ex) { return ex.Types.OfType<Type>(); }
    }

    private static void Add(ModelComponentRegistration registration)
    {
        if (!ByName.TryGetValue(registration.Name, out var list)) ByName[registration.Name] = list = [];
        // Duplicates are kept rather than thrown here, so that a clash only fails the loads and saves that use that name.
        list.Add(registration);
    }

    private static ModelComponentRegistration FromType(Type type, ModelComponentAttribute attribute)
    {
        // One delegate per type, made once: later loads call the static abstract Load without reflection.
        var loader = LoadThroughInterfaceMethod.MakeGenericMethod(type).CreateDelegate<Func<ModelLoadContext, ISavableTransformer>>();
        return new ModelComponentRegistration(attribute.Name, attribute.Version, loader, type);
    }

    // Public in a private class, so the generic definition is found without reaching for non-public members.
    private static class InterfaceLoader
    {
        public static ISavableTransformer Load<TComponent>(ModelLoadContext context)
            where TComponent : ISavableTransformer, ILoadableTransformer<TComponent> => TComponent.Load(context);
    }

    private static string Describe(ModelComponentRegistration registration) =>
        registration.ComponentType is { } type ? $"class {type.FullName} in {type.Assembly.GetName().Name}" : "an explicit ModelComponentRegistry.Register call";

    private static void ValidateName(string name, string owner)
    {
        // The name becomes part of a folder name in the zip, so it must be a plain, portable file-name fragment.
        if (string.IsNullOrEmpty(name) || !NamePattern().IsMatch(name))
            throw new ArgumentException($"'{name}' ({owner}) is not a valid model component name: use letters, digits, '.', '_' and '-', starting with a letter or digit.");
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex NamePattern();
}

/// <summary>A registered component: its name, the highest version its loader reads, the loader, and its class when known.</summary>
internal sealed record ModelComponentRegistration(string Name, int Version, Func<ModelLoadContext, ISavableTransformer> Loader, Type? ComponentType);
