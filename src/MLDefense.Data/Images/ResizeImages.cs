namespace MLDefense.Legacy;

/// <summary>Options of <see cref="ResizeImagesTransformer"/> (also what its model folder stores).</summary>
public sealed class ResizeImagesOptions
{
    /// <summary>The resized image column to add.</summary>
    public string OutputColumnName { get; set; } = "Image";
    /// <summary>The image column to resize (null: the output column's name, which the output then hides).</summary>
    public string? InputColumnName { get; set; }
    /// <summary>The new width.</summary>
    public int Width { get; set; }
    /// <summary>The new height.</summary>
    public int Height { get; set; }

    internal string Input => InputColumnName ?? OutputColumnName;

    internal ResizeImagesOptions Validated()
    {
        ArgumentException.ThrowIfNullOrEmpty(OutputColumnName);
        ImageColumns.RequireSize(Width, Height, "ResizeImages");
        return this;
    }
}

/// <summary>Configures <see cref="ResizeImagesTransformer"/>; there is nothing to learn, so Fit only checks the schema.</summary>
public sealed class ResizeImagesEstimator(ResizeImagesOptions options) : IEstimator<ResizeImagesTransformer>
{
    private readonly ResizeImagesOptions options = options.Validated();

    /// <inheritdoc />
    public ResizeImagesTransformer Fit(IDataView input)
    {
        var transformer = new ResizeImagesTransformer(options);
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new ResizeImagesTransformer(options).GetOutputSchema(inputSchema);
}

/// <summary>
/// Resizes an image column to width × height, batch by batch, bilinearly (PyTorch's <c>interpolate</c> with
/// <c>align_corners=False</c>, no antialiasing), keeping the channels; values stay in [0, 1].
/// <list type="table">
/// <listheader><term>column</term><description>type</description></listheader>
/// <item><term>input <see cref="ResizeImagesOptions.InputColumnName"/></term><description>image C×H×W (float vector with the <see cref="ImageShape"/> annotation)</description></item>
/// <item><term>output <see cref="ResizeImagesOptions.OutputColumnName"/></term><description>image C×Height×Width, with the <see cref="ImageShape"/> annotation</description></item>
/// </list>
/// </summary>
[ModelComponent("MLDefense.ResizeImages", 1)]
public sealed class ResizeImagesTransformer : BatchTransformer, ISavableTransformer, ILoadableTransformer<ResizeImagesTransformer>
{
    private readonly ResizeImagesOptions options;

    /// <summary>Creates the transformer (the options are validated).</summary>
    public ResizeImagesTransformer(ResizeImagesOptions options) => this.options = options.Validated();

    /// <inheritdoc />
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [options.Input];

    /// <inheritdoc />
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema)
    {
        var input = ImageColumns.RequireImage(inputSchema, options.Input, "ResizeImages");
        var shape = new ImageShape(input.ImageShape!.Channels, options.Height, options.Width);
        return [ImageColumns.ImageColumn(options.OutputColumnName, shape)];
    }

    /// <inheritdoc />
    public override IReadOnlyList<Array> MapBatch(DataBatch input)
    {
        var source = input.Schema[options.Input].ImageShape!;
        var images = input.Get<float>(options.Input);
        // Same size: still a new array, because downstream code may own and mutate what a transform returns.
        if (source.Height == options.Height && source.Width == options.Width) return [images.ToArray()];
        return [ImageFiles.Resize(images, input.RowCount, source, options.Height, options.Width)];
    }

    /// <inheritdoc />
    public void Save(ModelSaveContext context) => context.WriteOptions(options);

    /// <inheritdoc />
    public static ResizeImagesTransformer Load(ModelLoadContext context)
    {
        var options = context.ReadOptions<ResizeImagesOptions>();
        try { return new ResizeImagesTransformer(options); }
        catch (ArgumentException ex) { throw ImageColumns.BadOptions(context, ex); }
    }
}
