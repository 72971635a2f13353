using MLDefense.Torch.Native;
using static MLDefense.Torch.Native.NativeMethods;

namespace MLDefense.Torch;

public static partial class torch
{
    /// <summary>Reverse-mode differentiation, as <c>torch.autograd</c>.</summary>
    public static class autograd
    {
        /// <summary>
        /// Accumulates into the leaves' <c>.grad</c> the gradients of <paramref name="tensors"/>
        /// (seeded by <paramref name="grad_tensors"/>, required for non-scalar outputs).
        /// </summary>
        public static unsafe void backward(IReadOnlyList<Tensor> tensors, IReadOnlyList<Tensor?>? grad_tensors = null, bool? retain_graph = null, bool create_graph = false)
        {
            if (grad_tensors is not null && grad_tensors.Count != tensors.Count)
                throw new ArgumentException($"backward: {tensors.Count} tensors but {grad_tensors.Count} gradients.", nameof(grad_tensors));
            using var outs = new HandleList(tensors);
            using var grads = new HandleList(grad_tensors ?? []);
            fixed (IntPtr* o = outs.Pointers)
            fixed (IntPtr* g = grads.Pointers)
                Check.Status(mld_autograd_backward(o, tensors.Count, grad_tensors is null ? null : g, RetainFlag(retain_graph), create_graph ? 1 : 0), "backward");
        }

        /// <summary>
        /// The gradients of <paramref name="outputs"/> with respect to <paramref name="inputs"/> (<c>torch.autograd.grad</c>).
        /// With <paramref name="create_graph"/> the result is itself differentiable (double backward, e.g. WGAN-GP's penalty).
        /// An input the outputs do not depend on gives null when <paramref name="allow_unused"/>, else an error.
        /// </summary>
        public static unsafe Tensor?[] grad(IReadOnlyList<Tensor> outputs, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?>? grad_outputs = null,
                                            bool? retain_graph = null, bool create_graph = false, bool allow_unused = false)
        {
            if (grad_outputs is not null && grad_outputs.Count != outputs.Count)
                throw new ArgumentException($"grad: {outputs.Count} outputs but {grad_outputs.Count} grad_outputs.", nameof(grad_outputs));
            using var outs = new HandleList(outputs);
            using var ins = new HandleList(inputs);
            using var gos = new HandleList(grad_outputs ?? []);
            var results = new IntPtr[inputs.Count];
            fixed (IntPtr* o = outs.Pointers)
            fixed (IntPtr* i = ins.Pointers)
            fixed (IntPtr* g = gos.Pointers)
            fixed (IntPtr* r = results)
                Check.Status(mld_autograd_grad(o, outputs.Count, i, inputs.Count, grad_outputs is null ? null : g,
                                               RetainFlag(retain_graph), create_graph ? 1 : 0, allow_unused ? 1 : 0, r), "autograd.grad");
            return Array.ConvertAll(results, p => p == IntPtr.Zero ? null : new Tensor(p));
        }

        /// <summary>The gradient of one output with respect to one input.</summary>
        public static Tensor grad(Tensor output, Tensor input, Tensor? grad_output = null, bool? retain_graph = null, bool create_graph = false) =>
            grad([output], [input], grad_output is null ? null : [grad_output], retain_graph, create_graph)[0]!;

        // retain_graph defaults to create_graph in libtorch when unset (-1).
        private static int RetainFlag(bool? retain) => retain is null ? -1 : retain.Value ? 1 : 0;
    }
}
