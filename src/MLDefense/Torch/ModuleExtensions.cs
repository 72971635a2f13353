namespace MLDefense.Torch;

/// <summary>Small conveniences over TorchSharp's modules and devices.</summary>
public static class ModuleExtensions
{
    /// <summary>
    /// <c>register_module</c> that returns the child, so a constructor registers a layer and keeps it in one
    /// statement (TorchSharp's returns nothing). State-dict keys are <c>name.*</c>, in registration order.
    /// </summary>
    public static T Register<T>(this nn.Module owner, string name, T child) where T : nn.Module
    {
        ArgumentNullException.ThrowIfNull(owner);
        owner.register_module(name, child);
        return child;
    }

    // Why RegisterParameter and RegisterBuffer: a tensor made while a torch.NewDisposeScope() is open belongs to that scope and is freed
    // when it ends, and a Parameter made from it takes its place there. TorchSharp's own layers (Linear, Conv2d, BatchNorm2d...) detach
    // their parameters and buffers from the scope as they set them; register_parameter and register_buffer do not. A module that makes
    // its own state must therefore detach it too, else a network built inside a caller's scope — an estimator's Fit or ml.Model.Load
    // inside `using (torch.NewDisposeScope())`, as an ML.NET app may well write — loses its weights when that scope ends (found in
    // ContraNet's spectral-norm and conditional batch-norm layers). Every module MLDefense writes makes its state through these two.

    /// <summary>
    /// Makes <paramref name="initial"/> a parameter of <paramref name="owner"/> named <paramref name="name"/> (a state-dict key) and returns
    /// it, detached from any open dispose scope as TorchSharp's own layers detach theirs: the module owns it (see the comment above).
    /// <paramref name="initial"/> becomes empty, as with <c>new Parameter(initial)</c>.
    /// </summary>
    public static Parameter RegisterParameter(this nn.Module owner, string name, Tensor initial)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(initial);
        var parameter = new Parameter(initial);
        parameter.DetachFromDisposeScope();
        owner.register_parameter(name, parameter);
        return parameter;
    }

    /// <summary>
    /// Registers <paramref name="tensor"/> as a persistent buffer of <paramref name="owner"/> named <paramref name="name"/> (saved with the
    /// state dict, no gradient) and returns it, detached from any open dispose scope: the module owns it (see the comment above).
    /// </summary>
    public static Tensor RegisterBuffer(this nn.Module owner, string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(tensor);
        tensor.DetachFromDisposeScope();
        owner.register_buffer(name, tensor);
        return tensor;
    }

    /// <summary>
    /// Loads a state dict strictly: every key of the module present, no other key, every dtype and shape equal — checked
    /// before anything is copied, so a state that does not fit leaves the module as it was. The tensors are copied in;
    /// the caller keeps (and disposes) <paramref name="state"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The state does not fit; the message names the first key that differs.</exception>
    public static void LoadStateStrict(this nn.Module module, IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(state);
        var own = module.state_dict();   // the module's own tensors: nothing to dispose
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        if (missing.Count > 0) throw new ArgumentException($"missing {missing.Count} key(s): {string.Join(", ", missing.Take(5))}");
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (unexpected.Count > 0) throw new ArgumentException($"unexpected {unexpected.Count} key(s): {string.Join(", ", unexpected.Take(5))}");
        foreach (var (key, target) in own)
        {
            var source = state[key];
            if (source.dtype != target.dtype)
                throw new ArgumentException($"'{key}' is {source.dtype} where the model has {target.dtype}");
            if (!source.shape.SequenceEqual(target.shape))
                throw new ArgumentException($"'{key}' has shape [{string.Join(", ", source.shape)}] where the model has [{string.Join(", ", target.shape)}]");
        }
        using var _ = torch.no_grad();
        foreach (var (key, target) in own) target.copy_(state[key]);
    }

    /// <summary>Whether two devices are the same one (TorchSharp's <see cref="Device"/> compares by reference).</summary>
    public static bool IsSame(this Device a, Device b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        // "cuda" and "cuda:0" name one device; a CPU has no index that matters.
        return a.type == b.type && (a.type == DeviceType.CPU || Math.Max(a.index, 0) == Math.Max(b.index, 0));
    }
}
