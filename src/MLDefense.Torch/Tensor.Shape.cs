using static MLDefense.Torch.Native.NativeMethods;
using MLDefense.Torch.Native;

namespace MLDefense.Torch;

public sealed partial class Tensor
{
    /// <summary>Same data, new shape (copies when the layout demands it); one size may be −1.</summary>
    public unsafe Tensor reshape(params long[] shape) { fixed (long* s = shape) return Wrap(mld_tensor_reshape(Handle, s, shape.Length)); }
    /// <summary>Same data, new shape, never copies (fails on incompatible strides).</summary>
    public unsafe Tensor view(params long[] shape) { fixed (long* s = shape) return Wrap(mld_tensor_view(Handle, s, shape.Length)); }
    /// <summary>Flattens dimensions start..end into one.</summary>
    public Tensor flatten(long start_dim = 0, long end_dim = -1) => Wrap(mld_tensor_flatten(Handle, start_dim, end_dim));
    /// <summary>Reorders dimensions.</summary>
    public unsafe Tensor permute(params long[] dims) { fixed (long* d = dims) return Wrap(mld_tensor_permute(Handle, d, dims.Length)); }
    /// <summary>Swaps two dimensions.</summary>
    public Tensor transpose(long dim0, long dim1) => Wrap(mld_tensor_transpose(Handle, dim0, dim1));
    /// <summary>Removes every dimension of size 1.</summary>
    public Tensor squeeze() => Wrap(mld_tensor_squeeze(Handle));
    /// <summary>Removes one dimension if its size is 1.</summary>
    public Tensor squeeze(long dim) => Wrap(mld_tensor_squeeze_dim(Handle, dim));
    /// <summary>Inserts a dimension of size 1.</summary>
    public Tensor unsqueeze(long dim) => Wrap(mld_tensor_unsqueeze(Handle, dim));
    /// <summary>Broadcasts to a larger shape without copying (−1 keeps a size).</summary>
    public unsafe Tensor expand(params long[] shape) { fixed (long* s = shape) return Wrap(mld_tensor_expand(Handle, s, shape.Length)); }
    /// <summary>Tiles the tensor.</summary>
    public unsafe Tensor repeat(params long[] repeats) { fixed (long* s = repeats) return Wrap(mld_tensor_repeat(Handle, s, repeats.Length)); }
    /// <summary>Reverses the order along dimensions.</summary>
    public unsafe Tensor flip(params long[] dims) { fixed (long* d = dims) return Wrap(mld_tensor_flip(Handle, d, dims.Length)); }
    /// <summary>A slice [start, start+length) along a dimension (a view).</summary>
    public Tensor narrow(long dim, long start, long length) => Wrap(mld_tensor_narrow(Handle, dim, start, length));
    /// <summary>The sub-tensor at an index of a dimension (removes that dimension).</summary>
    public Tensor select(long dim, long index) => Wrap(mld_tensor_select(Handle, dim, index));
    /// <summary>Rows (along dim) picked by an int64 index vector.</summary>
    public Tensor index_select(long dim, Tensor index) => Wrap(mld_tensor_index_select(Handle, dim, index.Handle));
    /// <summary>Values picked along dim by an int64 index tensor of the output's shape.</summary>
    public Tensor gather(long dim, Tensor index) => Wrap(mld_tensor_gather(Handle, dim, index.Handle));
    /// <summary>A copy with <paramref name="source"/> written at <paramref name="index"/> along dim.</summary>
    public Tensor scatter(long dim, Tensor index, Tensor source) => Wrap(mld_tensor_scatter(Handle, dim, index.Handle, source.Handle));
    /// <summary>A copy with <paramref name="value"/> where the mask is true.</summary>
    public Tensor masked_fill(Tensor mask, double value) => Wrap(mld_tensor_masked_fill(Handle, mask.Handle, value));
    /// <summary>The elements where the mask is true, as a 1-D tensor.</summary>
    public Tensor masked_select(Tensor mask) => Wrap(mld_tensor_masked_select(Handle, mask.Handle));
    /// <summary>The sub-tensor at an index of the first dimension.</summary>
    public Tensor this[long index] => select(0, index);

    /// <summary>Splits into pieces of <paramref name="split_size"/> along dim (the last may be smaller).</summary>
    public unsafe Tensor[] split(long split_size, long dim = 0) => SplitCore([split_size], dim);
    /// <summary>Splits into pieces of the given sizes along dim (they must add up to the dimension's size).</summary>
    public unsafe Tensor[] split(long[] split_sizes, long dim = 0)
    {
        // The native call reads one size as a piece length (split_size); a one-element list must cover the dimension, as in PyTorch.
        if (split_sizes.Length == 1 && split_sizes[0] != size(dim))
            throw new ArgumentException($"split: split_sizes [{split_sizes[0]}] must sum to {size(dim)}, the size of dimension {dim}.", nameof(split_sizes));
        return SplitCore(split_sizes, dim);
    }

    private unsafe Tensor[] SplitCore(long[] sizes, long dim)
    {
        if (sizes.Length == 0) throw new ArgumentException("split: give at least one size.", nameof(sizes));
        fixed (long* s = sizes)
        {
            Check.Status(mld_tensor_split(Handle, s, sizes.Length, dim, null, out long count), "split");
            var ptrs = new IntPtr[count];
            fixed (IntPtr* p = ptrs) Check.Status(mld_tensor_split(Handle, s, sizes.Length, dim, p, out _), "split");
            return Array.ConvertAll(ptrs, p => new Tensor(p));
        }
    }

    /// <summary>Splits into <paramref name="chunks"/> nearly equal pieces along dim.</summary>
    public unsafe Tensor[] chunk(long chunks, long dim = 0)
    {
        Check.Status(mld_tensor_chunk(Handle, chunks, dim, null, out long count), "chunk");
        var ptrs = new IntPtr[count];
        fixed (IntPtr* p = ptrs) Check.Status(mld_tensor_chunk(Handle, chunks, dim, p, out _), "chunk");
        return Array.ConvertAll(ptrs, p => new Tensor(p));
    }
}
