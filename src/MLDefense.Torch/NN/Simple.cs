using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Modules;

/// <summary>A layer without parameters defined by a function of its input.</summary>
public abstract class Stateless : Module<Tensor, Tensor>;

/// <summary>max(x, 0)</summary>
public sealed class ReLU : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.relu(); }

/// <summary>x if x &gt; 0 else slope·x</summary>
public sealed class LeakyReLU(double negative_slope = 0.01) : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.leaky_relu(input, negative_slope); }

/// <summary>1/(1+e^-x)</summary>
public sealed class Sigmoid : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.sigmoid(); }

/// <summary>tanh x</summary>
public sealed class Tanh : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.tanh(); }

/// <summary>(1/β)·log(1+e^(βx))</summary>
public sealed class Softplus(double beta = 1, double threshold = 20) : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.softplus(input, beta, threshold); }

/// <summary>x if x &gt; 0 else α(e^x − 1)</summary>
public sealed class ELU(double alpha = 1) : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.elu(input, alpha); }

/// <summary>Softmax along a dimension.</summary>
public sealed class Softmax(long dim) : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.softmax(dim); }

/// <summary>Log-softmax along a dimension.</summary>
public sealed class LogSoftmax(long dim) : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.log_softmax(dim); }

/// <summary>Returns its input (a new handle to it).</summary>
public sealed class Identity : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.alias(); }

/// <summary>Flattens dimensions start..end (default: all but the batch).</summary>
public sealed class Flatten(long start_dim = 1, long end_dim = -1) : Stateless { /// <inheritdoc />
    public override Tensor forward(Tensor input) => input.flatten(start_dim, end_dim); }

/// <summary>Dropout with probability p, active in training mode only.</summary>
public sealed class Dropout : Stateless
{
    private readonly double p;
    /// <summary>Creates the layer.</summary>
    public Dropout(double p = 0.5)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must be in [0, 1]");
        this.p = p;
    }
    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.dropout(input, p, training);
}

/// <summary>2-D max pooling (stride defaults to the kernel size).</summary>
public sealed class MaxPool2d(long kernel_size, long? stride = null, long padding = 0, long dilation = 1, bool ceil_mode = false) : Stateless
{
    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.max_pool2d(input, [kernel_size], [stride ?? kernel_size], [padding], [dilation], ceil_mode);
}

/// <summary>2-D average pooling (stride defaults to the kernel size).</summary>
public sealed class AvgPool2d(long kernel_size, long? stride = null, long padding = 0, bool ceil_mode = false, bool count_include_pad = true) : Stateless
{
    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.avg_pool2d(input, [kernel_size], [stride ?? kernel_size], [padding], ceil_mode, count_include_pad);
}

/// <summary>Average pooling to a fixed output size.</summary>
public sealed class AdaptiveAvgPool2d(long[] output_size) : Stateless
{
    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.adaptive_avg_pool2d(input, output_size);
}

/// <summary>Resizes images to a size or by a scale factor.</summary>
public sealed class Upsample(long[]? size = null, double[]? scale_factor = null, InterpolationMode mode = InterpolationMode.Nearest, bool align_corners = false) : Stateless
{
    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.interpolate(input, size, scale_factor, mode, align_corners);
}

/// <summary>Applies its children in order; they are named "0", "1", ... as in PyTorch.</summary>
public sealed class Sequential : Module<Tensor, Tensor>
{
    private readonly List<Module<Tensor, Tensor>> layers = new();

    /// <summary>Creates the chain.</summary>
    public Sequential(params Module<Tensor, Tensor>[] modules)
    {
        foreach (var m in modules) append(m);
    }

    /// <summary>Adds a layer at the end.</summary>
    public Sequential append(Module<Tensor, Tensor> module)
    {
        register_module(layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        layers.Add(module);
        return this;
    }

    /// <summary>The number of layers.</summary>
    public int Count => layers.Count;

    /// <summary>The layer at a position.</summary>
    public Module<Tensor, Tensor> this[int index] => layers[index];

    /// <summary>Runs the layers in order; intermediate results are freed as soon as the next layer has consumed them.</summary>
    public override Tensor forward(Tensor input)
    {
        if (layers.Count == 0) return input.alias();
        Tensor x = layers[0].forward(input);
        for (int i = 1; i < layers.Count; i++)
        {
            var next = layers[i].forward(x);
            x.Dispose();
            x = next;
        }
        return x;
    }
}
