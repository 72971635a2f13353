using F = MLDefense.Torch.torch.nn.functional;

namespace MLDefense.Torch.Modules;

/// <summary>y = x·Wᵀ + b; weight (out, in). PyTorch's default initialisation.</summary>
public sealed class Linear : Module<Tensor, Tensor>
{
    /// <summary>Weight (out_features, in_features).</summary>
    public Tensor weight { get; }
    /// <summary>Bias (out_features), or null.</summary>
    public Tensor? bias { get; }

    /// <summary>Creates the layer.</summary>
    public Linear(long in_features, long out_features, bool hasBias = true, Device? device = null)
    {
        if (in_features < 1 || out_features < 1) throw new ArgumentOutOfRangeException(nameof(in_features), "Linear: feature counts must be positive.");
        weight = register_parameter(nameof(weight), torch.empty([out_features, in_features], device: device))!;
        bias = register_parameter(nameof(bias), hasBias ? torch.empty([out_features], device: device) : null);
        torch.nn.init.default_layer_init(weight, bias);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.linear(input, weight, bias);
}

/// <summary>2-D convolution; weight (out, in/groups, kH, kW). PyTorch's default initialisation.</summary>
public sealed class Conv2d : Module<Tensor, Tensor>
{
    private readonly long[] stride, padding, dilation;
    private readonly long groups;
    /// <summary>Weight (out_channels, in_channels/groups, kH, kW).</summary>
    public Tensor weight { get; }
    /// <summary>Bias (out_channels), or null.</summary>
    public Tensor? bias { get; }

    /// <summary>Creates the layer (square kernel, stride, padding and dilation).</summary>
    public Conv2d(long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0, long dilation = 1, long groups = 1, bool hasBias = true, Device? device = null)
    {
        if (groups < 1 || in_channels % groups != 0 || out_channels % groups != 0)
            throw new ArgumentException($"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({groups}).");
        (this.stride, this.padding, this.dilation, this.groups) = ([stride, stride], [padding, padding], [dilation, dilation], groups);
        weight = register_parameter(nameof(weight), torch.empty([out_channels, in_channels / groups, kernel_size, kernel_size], device: device))!;
        bias = register_parameter(nameof(bias), hasBias ? torch.empty([out_channels], device: device) : null);
        torch.nn.init.default_layer_init(weight, bias);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.conv2d(input, weight, bias, stride, padding, dilation, groups);
}

/// <summary>2-D transposed convolution; weight (in, out/groups, kH, kW). PyTorch's default initialisation.</summary>
public sealed class ConvTranspose2d : Module<Tensor, Tensor>
{
    private readonly long[] stride, padding, outputPadding, dilation;
    private readonly long groups;
    /// <summary>Weight (in_channels, out_channels/groups, kH, kW).</summary>
    public Tensor weight { get; }
    /// <summary>Bias (out_channels), or null.</summary>
    public Tensor? bias { get; }

    /// <summary>Creates the layer.</summary>
    public ConvTranspose2d(long in_channels, long out_channels, long kernel_size, long stride = 1, long padding = 0, long output_padding = 0, long groups = 1, bool hasBias = true, long dilation = 1, Device? device = null)
    {
        if (groups < 1 || in_channels % groups != 0 || out_channels % groups != 0)
            throw new ArgumentException($"ConvTranspose2d: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({groups}).");
        (this.stride, this.padding, outputPadding, this.dilation, this.groups) = ([stride, stride], [padding, padding], [output_padding, output_padding], [dilation, dilation], groups);
        weight = register_parameter(nameof(weight), torch.empty([in_channels, out_channels / groups, kernel_size, kernel_size], device: device))!;
        bias = register_parameter(nameof(bias), hasBias ? torch.empty([out_channels], device: device) : null);
        torch.nn.init.default_layer_init(weight, bias);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.conv_transpose2d(input, weight, bias, stride, padding, outputPadding, groups, dilation);
}

/// <summary>
/// Batch normalisation over (N, C) or (N, C, L) — <see cref="BatchNorm1d"/> — or (N, C, H, W) — <see cref="BatchNorm2d"/>.
/// Buffers running_mean, running_var and num_batches_tracked as in PyTorch.
/// </summary>
public abstract class BatchNorm : Module<Tensor, Tensor>
{
    private readonly double eps;
    private readonly long[] allowedRanks;
    /// <summary>
    /// The weight of each training batch's statistics in the running ones (0.1 by default); null keeps a cumulative
    /// (equal-weight) average over the batches since <see cref="reset_running_stats"/>, as PyTorch's <c>momentum=None</c>.
    /// </summary>
    public double? momentum { get; set; }
    /// <summary>Scale γ (num_features), or null without affine.</summary>
    public Tensor? weight { get; }
    /// <summary>Shift β (num_features), or null without affine.</summary>
    public Tensor? bias { get; }
    /// <summary>Running mean (num_features), or null without running stats.</summary>
    public Tensor? running_mean { get; }
    /// <summary>Running (unbiased) variance (num_features), or null without running stats.</summary>
    public Tensor? running_var { get; }
    /// <summary>The number of training batches seen.</summary>
    public Tensor? num_batches_tracked { get; }
    /// <summary>The number of channels.</summary>
    public long num_features { get; }

    private protected BatchNorm(long num_features, double eps, double momentum, bool affine, bool track_running_stats, long[] allowedRanks, Device? device)
    {
        if (num_features < 1) throw new ArgumentOutOfRangeException(nameof(num_features), "BatchNorm: num_features must be positive.");
        (this.num_features, this.eps, this.momentum, this.allowedRanks) = (num_features, eps, momentum, allowedRanks);
        weight = register_parameter(nameof(weight), affine ? torch.ones([num_features], device: device) : null);
        bias = register_parameter(nameof(bias), affine ? torch.zeros([num_features], device: device) : null);
        running_mean = register_buffer(nameof(running_mean), track_running_stats ? torch.zeros([num_features], device: device) : null);
        running_var = register_buffer(nameof(running_var), track_running_stats ? torch.ones([num_features], device: device) : null);
        num_batches_tracked = register_buffer(nameof(num_batches_tracked), track_running_stats ? torch.zeros([], ScalarType.Int64, device) : null);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var rank = input.dim();
        if (!allowedRanks.Contains(rank))
            throw new ArgumentException($"{GetType().Name}: expected input of {string.Join(" or ", allowedRanks)} dimensions, got {rank} (shape [{string.Join(", ", input.shape)}]).");
        bool useBatchStats = training || running_mean is null;
        double factor = momentum ?? 0;
        if (training && num_batches_tracked is not null)
        {
            using var _ = torch.no_grad();
            using var one = torch.ones_like(num_batches_tracked);
            num_batches_tracked.add_(one);
            if (momentum is null) factor = 1.0 / num_batches_tracked.item<long>();
        }
        return F.batch_norm(input, running_mean, running_var, weight, bias, useBatchStats, factor, eps);
    }

    /// <summary>Forgets the running statistics: mean 0, variance 1, no batches tracked (PyTorch's <c>reset_running_stats</c>).</summary>
    public void reset_running_stats()
    {
        if (running_mean is null) return;
        using var _ = torch.no_grad();
        running_mean.zero_();
        running_var!.fill_(1);
        num_batches_tracked!.zero_();
    }
}

/// <summary>Batch normalisation of (N, C) or (N, C, L) inputs.</summary>
public sealed class BatchNorm1d(long num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool track_running_stats = true, Device? device = null)
    : BatchNorm(num_features, eps, momentum, affine, track_running_stats, [2, 3], device);

/// <summary>Batch normalisation of (N, C, H, W) inputs.</summary>
public sealed class BatchNorm2d(long num_features, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool track_running_stats = true, Device? device = null)
    : BatchNorm(num_features, eps, momentum, affine, track_running_stats, [4], device);

/// <summary>A lookup table of vectors, initialised N(0, 1) (the padding row zeroed).</summary>
public sealed class Embedding : Module<Tensor, Tensor>
{
    private readonly long? paddingIdx;
    /// <summary>Weight (num_embeddings, embedding_dim).</summary>
    public Tensor weight { get; }

    /// <summary>Creates the table.</summary>
    public Embedding(long num_embeddings, long embedding_dim, long? padding_idx = null, Device? device = null)
    {
        weight = register_parameter(nameof(weight), torch.empty([num_embeddings, embedding_dim], device: device))!;
        torch.nn.init.normal_(weight);
        if (padding_idx is long p)
        {
            // Negative counts from the end, as in PyTorch.
            if (p < -num_embeddings || p >= num_embeddings) throw new ArgumentOutOfRangeException(nameof(padding_idx), "Embedding: padding_idx must index a row.");
            if (p < 0) p += num_embeddings;
            paddingIdx = p;
            using var _ = torch.no_grad();
            using var row = weight.select(0, p);
            row.zero_();
        }
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => F.embedding(input, weight, paddingIdx);
}
