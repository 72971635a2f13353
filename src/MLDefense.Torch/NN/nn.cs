using MLDefense.Torch.Modules;
using MLDefense.Torch.Native;
using static MLDefense.Torch.Native.NativeMethods;

namespace MLDefense.Torch;

public static partial class torch
{
    public static partial class nn
    {
        /// <summary>A fully connected layer.</summary>
        public static Linear Linear(long in_features, long out_features, bool bias = true, Device? device = null) => new(in_features, out_features, bias, device);
        /// <summary>A 2-D convolution.</summary>
        public static Conv2d Conv2d(long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0, long dilation = 1, long groups = 1, bool bias = true, Device? device = null) =>
            new(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, device);
        /// <summary>A 2-D transposed convolution.</summary>
        public static ConvTranspose2d ConvTranspose2d(long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0, long output_padding = 0, long groups = 1, bool bias = true, long dilation = 1, Device? device = null) =>
            new(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias, dilation, device);
        /// <summary>Batch normalisation of (N, C) or (N, C, L).</summary>
        public static BatchNorm1d BatchNorm1d(long num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool track_running_stats = true, Device? device = null) =>
            new(num_features, eps, momentum, affine, track_running_stats, device);
        /// <summary>Batch normalisation of (N, C, H, W).</summary>
        public static BatchNorm2d BatchNorm2d(long num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool track_running_stats = true, Device? device = null) =>
            new(num_features, eps, momentum, affine, track_running_stats, device);
        /// <summary>A lookup table.</summary>
        public static Embedding Embedding(long num_embeddings, long embedding_dim, long? padding_idx = null, Device? device = null) => new(num_embeddings, embedding_dim, padding_idx, device);
        /// <summary>Dropout.</summary>
        public static Dropout Dropout(double p = 0.5) => new(p);
        /// <summary>Max pooling.</summary>
        public static MaxPool2d MaxPool2d(long kernel_size, long? stride = null, long padding = 0, long dilation = 1, bool ceil_mode = false) => new(kernel_size, stride, padding, dilation, ceil_mode);
        /// <summary>Average pooling.</summary>
        public static AvgPool2d AvgPool2d(long kernel_size, long? stride = null, long padding = 0, bool ceil_mode = false, bool count_include_pad = true) => new(kernel_size, stride, padding, ceil_mode, count_include_pad);
        /// <summary>Adaptive average pooling.</summary>
        public static AdaptiveAvgPool2d AdaptiveAvgPool2d(long[] output_size) => new(output_size);
        /// <summary>Resizing.</summary>
        public static Upsample Upsample(long[]? size = null, double[]? scale_factor = null, InterpolationMode mode = InterpolationMode.Nearest, bool align_corners = false) => new(size, scale_factor, mode, align_corners);
        /// <summary>Flatten (all but the batch by default).</summary>
        public static Flatten Flatten(long start_dim = 1, long end_dim = -1) => new(start_dim, end_dim);
        /// <summary>ReLU.</summary>
        public static ReLU ReLU() => new();
        /// <summary>LeakyReLU.</summary>
        public static LeakyReLU LeakyReLU(double negative_slope = 0.01) => new(negative_slope);
        /// <summary>Sigmoid.</summary>
        public static Sigmoid Sigmoid() => new();
        /// <summary>Tanh.</summary>
        public static Tanh Tanh() => new();
        /// <summary>Softplus.</summary>
        public static Softplus Softplus(double beta = 1, double threshold = 20) => new(beta, threshold);
        /// <summary>ELU.</summary>
        public static ELU ELU(double alpha = 1) => new(alpha);
        /// <summary>Softmax.</summary>
        public static Softmax Softmax(long dim) => new(dim);
        /// <summary>LogSoftmax.</summary>
        public static LogSoftmax LogSoftmax(long dim) => new(dim);
        /// <summary>Identity.</summary>
        public static Identity Identity() => new();
        /// <summary>A chain of layers.</summary>
        public static Sequential Sequential(params Module<Tensor, Tensor>[] modules) => new(modules);

        /// <summary>Helpers on parameters, as <c>torch.nn.utils</c>.</summary>
        public static class utils
        {
            /// <summary>Rescales gradients so their joint p-norm is at most <paramref name="max_norm"/>; returns the norm before clipping.</summary>
            public static unsafe double clip_grad_norm_(IEnumerable<Tensor> parameters, double max_norm, double norm_type = 2)
            {
                var list = parameters.ToList();
                using var handles = new HandleList(list);
                fixed (IntPtr* p = handles.Pointers)
                {
                    Check.Status(mld_nn_clip_grad_norm(p, list.Count, max_norm, norm_type, out double total), "clip_grad_norm_");
                    return total;
                }
            }
        }
    }
}
