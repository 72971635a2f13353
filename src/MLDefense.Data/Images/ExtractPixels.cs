namespace MLDefense.Legacy;

/// <summary>Options of <see cref="ExtractPixelsTransformer"/> (also what its model folder stores).</summary>
public sealed class ExtractPixelsOptions
{
    /// <summary>The column to add.</summary>
    public string OutputColumnName { get; set; } = "Pixels";
    /// <summary>The image column to read (null: the output column's name).</summary>
    public string? InputColumnName { get; set; }
    /// <summary>0 (default) keeps the input's channels; 1 converts to grey; 3 to RGB.</summary>
    public int Channels { get; set; }
    /// <summary>Order the values height × width × channels (true) instead of the project's channels-first order (false, default).</summary>
    public bool Interleave { get; set; }
    /// <summary>Each value is multiplied by this (default 1)…</summary>
    public float Scale { get; set; } = 1f;
    /// <summary>…then this is added (default 0).</summary>
    public float Offset { get; set; }

    internal string Input => InputColumnName ?? OutputColumnName;

    /// <summary>Whether the output is still an image in the project's sense: CHW with values in [0, 1].</summary>
    internal bool KeepsImage => !Interleave && Scale == 1f && Offset == 0f;

    internal ExtractPixelsOptions Validated()
    {
        ArgumentException.ThrowIfNullOrEmpty(OutputColumnName);
        if (Channels is not (0 or 1 or 3))
            throw new ArgumentOutOfRangeException(nameof(Channels), Channels, "ExtractPixels: channels must be 0 (keep), 1 (grey) or 3 (RGB).");
        if (!float.IsFinite(Scale) || !float.IsFinite(Offset))
            throw new ArgumentException($"ExtractPixels: scale and offset must be finite, got {Scale} and {Offset}.");
        return this;
    }
}

/// <summary>Configures <see cref="ExtractPixelsTransformer"/>; there is nothing to learn, so Fit only checks the schema.</summary>
public sealed class ExtractPixelsEstimator(ExtractPixelsOptions options) : IEstimator<ExtractPixelsTransformer>
{
    private readonly ExtractPixelsOptions options = options.Validated();

    /// <inheritdoc />
    public ExtractPixelsTransformer Fit(IDataView input)
    {
        var transformer = new ExtractPixelsTransformer(options);
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new ExtractPixelsTransformer(options).GetOutputSchema(inputSchema);
}

/// <summary>
/// Turns an image column into the pixel vector a model expects: converts the channels (RGB → grey by the
/// ITU-R BT.601 weights 0.299, 0.587, 0.114 as PIL and torchvision do; grey → RGB by repeating; an alpha channel is
/// dropped), optionally interleaves (HWC), then maps each value v to v × Scale + Offset. With the defaults for
/// Interleave, Scale and Offset the output is still an image (CHW in [0, 1], with the image shape annotation);
/// otherwise it is a plain float vector [C, H, W] or [H, W, C] without it, since it no longer follows the image convention.
/// <list type="table">
/// <listheader><term>column</term><description>type</description></listheader>
/// <item><term>input <see cref="ExtractPixelsOptions.InputColumnName"/></term><description>image C×H×W (float vector with the <see cref="ImageShape"/> annotation)</description></item>
/// <item><term>output <see cref="ExtractPixelsOptions.OutputColumnName"/></term><description>float vector of C'×H×W (or H×W×C') values, C' = Channels or C</description></item>
/// </list>
/// </summary>
[ModelComponent("MLDefense.ExtractPixels", 1)]
public sealed class ExtractPixelsTransformer : BatchTransformer, ISavableTransformer, ILoadableTransformer<ExtractPixelsTransformer>
{
    private const float RedWeight = 0.299f, GreenWeight = 0.587f, BlueWeight = 0.114f;
    private readonly ExtractPixelsOptions options;

    /// <summary>Creates the transformer (the options are validated).</summary>
    public ExtractPixelsTransformer(ExtractPixelsOptions options) => this.options = options.Validated();

    /// <inheritdoc />
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [options.Input];

    /// <inheritdoc />
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema)
    {
        var inputShape = ImageColumns.RequireImage(inputSchema, options.Input, "ExtractPixels").ImageShape!;
        var to = OutputShape(inputShape);
        if (options.KeepsImage) return [ImageColumns.ImageColumn(options.OutputColumnName, to)];
        var type = options.Interleave ? new VectorDataViewType(to.Height, to.Width, to.Channels) : to.VectorType;
        return [new DataViewSchema.Column(options.OutputColumnName, type)];
    }

    private ImageShape OutputShape(ImageShape input) => input with { Channels = options.Channels == 0 ? input.Channels : options.Channels };

    /// <inheritdoc />
    public override IReadOnlyList<Array> MapBatch(DataBatch input)
    {
        var inputShape = input.Schema[options.Input].ImageShape!;
        var to = OutputShape(inputShape);
        var images = input.Get<float>(options.Input);
        int plane = inputShape.Height * inputShape.Width;
        var output = new float[(long)input.RowCount * to.Size];
        for (int row = 0; row < input.RowCount; row++)
        {
            var image = images.AsSpan(row * inputShape.Size, inputShape.Size);
            var target = output.AsSpan(row * to.Size, to.Size);
            for (int p = 0; p < plane; p++)
                for (int k = 0; k < to.Channels; k++)
                {
                    float v = ChannelValue(image, inputShape.Channels, to.Channels, k, p, plane) * options.Scale + options.Offset;
                    target[options.Interleave ? p * to.Channels + k : k * plane + p] = v;
                }
        }
        return [output];
    }

    // The value of output channel k at pixel p, from an input with `channels` channels (the 2nd or 4th is alpha).
    private static float ChannelValue(ReadOnlySpan<float> image, int channels, int outputChannels, int k, int p, int plane)
    {
        bool inputIsGrey = channels <= 2;
        if (outputChannels == 1 && !inputIsGrey)
            return RedWeight * image[p] + GreenWeight * image[plane + p] + BlueWeight * image[2 * plane + p];
        if (inputIsGrey && outputChannels >= 3) return image[p];
        return image[k * plane + p];
    }

    /// <inheritdoc />
    public void Save(ModelSaveContext context) => context.WriteOptions(options);

    /// <inheritdoc />
    public static ExtractPixelsTransformer Load(ModelLoadContext context)
    {
        var options = context.ReadOptions<ExtractPixelsOptions>();
        try { return new ExtractPixelsTransformer(options); }
        catch (ArgumentException ex) { throw ImageColumns.BadOptions(context, ex); }
    }
}
