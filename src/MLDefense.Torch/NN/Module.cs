namespace MLDefense.Torch.Modules;

/// <summary>
/// The base of every layer and network, as <c>torch.nn.Module</c>: named parameters, buffers and children
/// (registered in order, so state-dict keys read like PyTorch's: <c>conv1.weight</c>, <c>0.bias</c>), train/eval
/// modes, device moves and state dicts. A module owns its parameters and buffers and frees them on Dispose.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Tensor? Tensor)> parameterSlots = new();
    private readonly List<(string Name, Tensor? Tensor)> bufferSlots = new();
    private readonly List<(string Name, Module Module)> childSlots = new();
    private bool disposed;

    /// <summary>True in training mode (dropout active, batch norm uses batch statistics).</summary>
    public bool training { get; private set; } = true;

    /// <summary>Registers a parameter (null for an absent optional one, e.g. no bias); the module takes ownership.</summary>
    protected Tensor? register_parameter(string name, Tensor? parameter)
    {
        CheckName(name);
        parameter?.DetachFromDisposeScope();
        if (parameter is not null && !parameter.requires_grad) parameter.requires_grad = true;
        parameterSlots.Add((name, parameter));
        return parameter;
    }

    /// <summary>Registers a buffer (state that is saved but not trained, e.g. running statistics).</summary>
    protected Tensor? register_buffer(string name, Tensor? buffer)
    {
        CheckName(name);
        buffer?.DetachFromDisposeScope();
        bufferSlots.Add((name, buffer));
        return buffer;
    }

    /// <summary>Registers a child module.</summary>
    protected T register_module<T>(string name, T module) where T : Module
    {
        CheckName(name);
        childSlots.Add((name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"'{name}' is not a valid member name (non-empty, no dots).", nameof(name));
        if (parameterSlots.Any(p => p.Name == name) || bufferSlots.Any(b => b.Name == name) || childSlots.Any(c => c.Name == name))
            throw new ArgumentException($"'{name}' is already registered in {GetType().Name}.", nameof(name));
    }

    /// <summary>Parameters with dotted names, depth first in registration order.</summary>
    public IEnumerable<(string name, Tensor parameter)> named_parameters(bool recurse = true)
    {
        foreach (var (n, p) in parameterSlots) if (p is not null) yield return (n, p);
        if (!recurse) yield break;
        foreach (var (cn, c) in childSlots)
            foreach (var (n, p) in c.named_parameters()) yield return ($"{cn}.{n}", p);
    }

    /// <summary>All parameters.</summary>
    public IEnumerable<Tensor> parameters(bool recurse = true) => named_parameters(recurse).Select(p => p.parameter);

    /// <summary>Buffers with dotted names.</summary>
    public IEnumerable<(string name, Tensor buffer)> named_buffers(bool recurse = true)
    {
        foreach (var (n, b) in bufferSlots) if (b is not null) yield return (n, b);
        if (!recurse) yield break;
        foreach (var (cn, c) in childSlots)
            foreach (var (n, b) in c.named_buffers()) yield return ($"{cn}.{n}", b);
    }

    /// <summary>All buffers.</summary>
    public IEnumerable<Tensor> buffers(bool recurse = true) => named_buffers(recurse).Select(b => b.buffer);

    /// <summary>Direct children.</summary>
    public IEnumerable<(string name, Module module)> named_children() => childSlots;

    /// <summary>This module and all its descendants, depth first.</summary>
    public IEnumerable<Module> modules()
    {
        yield return this;
        foreach (var (_, c) in childSlots)
            foreach (var m in c.modules()) yield return m;
    }

    /// <summary>Sets training mode on this module and its descendants.</summary>
    public Module train(bool mode = true)
    {
        foreach (var m in modules()) m.training = mode;
        return this;
    }

    /// <summary>Sets evaluation mode.</summary>
    public Module eval() => train(false);

    /// <summary>Moves parameters and buffers to a device in place (their handles stay valid).</summary>
    public Module to(Device device) => Apply(t => t.to(device));

    /// <summary>Converts floating-point parameters and buffers to another floating-point type in place.</summary>
    public Module to(ScalarType dtype)
    {
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"Module.to: {dtype} is not a floating-point type.", nameof(dtype));
        return Apply(t => t.dtype.IsFloatingPoint() ? t.to(dtype) : t.alias());
    }

    private Module Apply(Func<Tensor, Tensor> convert)
    {
        using var _ = torch.no_grad();
        foreach (var t in parameters().Concat(buffers()))
        {
            using var moved = convert(t);
            t.set_data(moved);
            using var g = t.grad;
            if (g is not null)
            {
                using var movedGrad = convert(g);
                t.grad = movedGrad;
            }
        }
        return this;
    }

    /// <summary>Zeroes (drops) every parameter's gradient.</summary>
    public void zero_grad()
    {
        foreach (var p in parameters()) p.grad = null;
    }

    /// <summary>Parameters and buffers by dotted name — aliases sharing storage with the module (dispose them when done).</summary>
    public Dictionary<string, Tensor> state_dict()
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (n, p) in named_parameters()) result[n] = p.detach().DetachFromDisposeScope();
        foreach (var (n, b) in named_buffers()) result[n] = b.detach().DetachFromDisposeScope();
        return result;
    }

    /// <summary>
    /// Copies values into the parameters and buffers. Shapes must match exactly; with <paramref name="strict"/>,
    /// missing and unexpected keys are errors too. Values are converted to each parameter's dtype and device.
    /// </summary>
    public void load_state_dict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = named_parameters().Concat(named_buffers()).ToList();
        if (strict)
        {
            var missing = own.Select(o => o.Item1).Where(n => !state.ContainsKey(n)).ToList();
            var unexpected = state.Keys.Where(k => own.All(o => o.Item1 != k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new ArgumentException($"load_state_dict into {GetType().Name}: missing keys [{string.Join(", ", missing)}], unexpected keys [{string.Join(", ", unexpected)}].");
        }
        using var _ = torch.no_grad();
        foreach (var (name, target) in own)
        {
            if (!state.TryGetValue(name, out var source)) continue;
            var (ts, ss) = (target.shape, source.shape);
            if (!ts.SequenceEqual(ss))
                throw new ArgumentException($"load_state_dict: '{name}' has shape [{string.Join(", ", ss)}] but the module expects [{string.Join(", ", ts)}].");
            target.copy_(source);
        }
    }

    /// <summary>Frees parameters, buffers and children.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var (_, p) in parameterSlots) p?.Dispose();
        foreach (var (_, b) in bufferSlots) b?.Dispose();
        foreach (var (_, c) in childSlots) c.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A module with a typed forward pass.</summary>
public abstract class Module<TInput, TOutput> : Module
{
    /// <summary>The forward computation.</summary>
    public abstract TOutput forward(TInput input);

    /// <summary>Runs <see cref="forward"/> (as calling a PyTorch module).</summary>
    public TOutput call(TInput input) => forward(input);
}
