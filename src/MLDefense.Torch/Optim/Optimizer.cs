using System.Runtime.InteropServices;
using MLDefense.Torch.Native;
using static MLDefense.Torch.Native.NativeMethods;

namespace MLDefense.Torch.Optim;

/// <summary>
/// An optimiser bound from libtorch's <c>torch::optim</c>, which implements the same update rules as PyTorch's
/// Python optimisers (PyTorch 1.13 semantics: <c>zero_grad</c> zeroes gradients rather than dropping them).
/// </summary>
public sealed class Optimizer : IDisposable
{
    private readonly OptimizerHandle handle;
    private readonly List<Tensor> parameters;

    private unsafe Optimizer(IEnumerable<Tensor> parameters, Func<IntPtr, long, IntPtr> create, string name)
    {
        this.parameters = parameters.ToList();
        if (this.parameters.Count == 0) throw new ArgumentException($"{name}: the parameter list is empty.", nameof(parameters));
        using var handles = new HandleList(this.parameters);
        fixed (IntPtr* p = handles.Pointers)
            handle = new OptimizerHandle(Check.Ptr(create((IntPtr)p, this.parameters.Count), name));
        Name = name;
        InitialLearningRate = LearningRate;
    }

    /// <summary>The optimiser's name (SGD, Adam, AdamW).</summary>
    public string Name { get; }

    /// <summary>The learning rate it was created with (schedulers scale from it).</summary>
    public double InitialLearningRate { get; }

    /// <summary>The current learning rate (of every parameter group).</summary>
    public double LearningRate
    {
        get { Check.Status(mld_optim_get_lr(handle, out double lr), "lr"); return lr; }
        set
        {
            if (!(value >= 0)) throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be ≥ 0.");
            Check.Status(mld_optim_set_lr(handle, value), "lr");
        }
    }

    /// <summary>The parameters it updates.</summary>
    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>One update from the accumulated gradients.</summary>
    public void step() => Check.Status(mld_optim_step(handle), $"{Name}.step");

    /// <summary>Zeroes the gradients of its parameters.</summary>
    public void zero_grad() => Check.Status(mld_optim_zero_grad(handle), $"{Name}.zero_grad");

    /// <summary>
    /// The optimiser's state — per-parameter step counts, moments and momentum buffers, and its options — as bytes in
    /// libtorch's archive format (what <c>torch::save</c> writes for an optimiser). <see cref="load_state"/> on an
    /// optimiser of the same kind over the same parameters continues the same updates (PyTorch's <c>state_dict</c> role).
    /// </summary>
    public byte[] save_state()
    {
        Check.Status(mld_optim_state_save(handle, out var data, out long length), $"{Name}.save_state");
        try
        {
            var bytes = new byte[length];
            Marshal.Copy(data, bytes, 0, checked((int)length));
            return bytes;
        }
        finally
        {
            mld_optim_free_buffer(data);
        }
    }

    /// <summary>Restores the state <see cref="save_state"/> returned (PyTorch's <c>load_state_dict</c> role).</summary>
    /// <exception cref="TorchException">The bytes are not an optimiser state libtorch can read into this optimiser.</exception>
    public unsafe void load_state(ReadOnlySpan<byte> state)
    {
        if (state.IsEmpty) throw new ArgumentException($"{Name}.load_state: the state is empty.", nameof(state));
        fixed (byte* p = state)
            Check.Status(mld_optim_state_load(handle, p, state.Length), $"{Name}.load_state");
    }

    /// <summary>Frees the native optimiser and its state.</summary>
    public void Dispose() => handle.Dispose();

    private static void Require(bool condition, string message)
    {
        if (!condition) throw new ArgumentOutOfRangeException(message);
    }

    internal static unsafe Optimizer Sgd(IEnumerable<Tensor> parameters, double lr, double momentum, double dampening, double weightDecay, bool nesterov)
    {
        Require(lr >= 0, "SGD: lr must be ≥ 0");
        Require(momentum >= 0, "SGD: momentum must be ≥ 0");
        Require(weightDecay >= 0, "SGD: weight_decay must be ≥ 0");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("SGD: Nesterov momentum requires a momentum and zero dampening.");
        return new(parameters, (p, n) => mld_optim_sgd_new((IntPtr*)p, n, lr, momentum, dampening, weightDecay, nesterov ? 1 : 0), "SGD");
    }

    internal static unsafe Optimizer Adam(IEnumerable<Tensor> parameters, double lr, (double, double) betas, double eps, double weightDecay, bool amsgrad, bool decoupled)
    {
        Require(lr >= 0, "Adam: lr must be ≥ 0");
        Require(betas.Item1 is >= 0 and < 1 && betas.Item2 is >= 0 and < 1, "Adam: betas must be in [0, 1)");
        Require(eps >= 0, "Adam: eps must be ≥ 0");
        Require(weightDecay >= 0, "Adam: weight_decay must be ≥ 0");
        return decoupled
            ? new(parameters, (p, n) => mld_optim_adamw_new((IntPtr*)p, n, lr, betas.Item1, betas.Item2, eps, weightDecay, amsgrad ? 1 : 0), "AdamW")
            : new(parameters, (p, n) => mld_optim_adam_new((IntPtr*)p, n, lr, betas.Item1, betas.Item2, eps, weightDecay, amsgrad ? 1 : 0), "Adam");
    }
}
