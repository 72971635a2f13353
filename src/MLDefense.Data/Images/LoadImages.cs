namespace MLDefense.Legacy;

/// <summary>Options of <see cref="LoadImagesTransformer"/> (also what its model folder stores).</summary>
public sealed class LoadImagesOptions
{
    /// <summary>The image column to add.</summary>
    public string OutputColumnName { get; set; } = "Image";
    /// <summary>The Text column of image file paths.</summary>
    public string InputColumnName { get; set; } = "ImagePath";
    /// <summary>The folder relative paths are resolved against (null: the current directory).</summary>
    public string? ImageFolder { get; set; }
    /// <summary>The width every image is resized to.</summary>
    public int Width { get; set; }
    /// <summary>The height every image is resized to.</summary>
    public int Height { get; set; }
    /// <summary>1 (grey) or 3 (RGB): the channel count every image is converted to.</summary>
    public int Channels { get; set; } = 3;

    internal LoadImagesOptions Validated()
    {
        ArgumentException.ThrowIfNullOrEmpty(OutputColumnName);
        ArgumentException.ThrowIfNullOrEmpty(InputColumnName);
        ImageColumns.RequireSize(Width, Height, "LoadImages");
        if (Channels is not (1 or 3))
            throw new ArgumentOutOfRangeException(nameof(Channels), Channels, "LoadImages: channels must be 1 (grey) or 3 (RGB).");
        return this;
    }
}

/// <summary>Configures <see cref="LoadImagesTransformer"/>; there is nothing to learn, so Fit only checks the schema.</summary>
public sealed class LoadImagesEstimator(LoadImagesOptions options) : IEstimator<LoadImagesTransformer>
{
    private readonly LoadImagesOptions options = options.Validated();

    /// <inheritdoc />
    public LoadImagesTransformer Fit(IDataView input)
    {
        var transformer = new LoadImagesTransformer(options);
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new LoadImagesTransformer(options).GetOutputSchema(inputSchema);
}

/// <summary>
/// Decodes the image files named by a Text column into an image column of one fixed shape: stb converts each image
/// to the requested channels, then a bilinear resize (PyTorch's <c>interpolate</c>, <c>align_corners=False</c>) brings it
/// to width × height unless it already has that size. Files of a batch are decoded in parallel.
/// <list type="table">
/// <listheader><term>column</term><description>type</description></listheader>
/// <item><term>input <see cref="LoadImagesOptions.InputColumnName"/></term><description>Text: a file path, relative ones resolved against <see cref="LoadImagesOptions.ImageFolder"/></description></item>
/// <item><term>output <see cref="LoadImagesOptions.OutputColumnName"/></term><description>image Channels×Height×Width, float CHW in [0, 1], with the <see cref="ImageShape"/> annotation</description></item>
/// </list>
/// </summary>
[ModelComponent("MLDefense.LoadImages", 1)]
public sealed class LoadImagesTransformer : BatchTransformer, ISavableTransformer, ILoadableTransformer<LoadImagesTransformer>
{
    private readonly LoadImagesOptions options;

    /// <summary>Creates the transformer (the options are validated).</summary>
    public LoadImagesTransformer(LoadImagesOptions options) => this.options = options.Validated();

    /// <summary>The shape of every output image.</summary>
    public ImageShape OutputShape => new(options.Channels, options.Height, options.Width);

    /// <inheritdoc />
    public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [options.InputColumnName];

    /// <inheritdoc />
    public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema)
    {
        ImageColumns.RequireText(inputSchema, options.InputColumnName, "LoadImages");
        return [ImageColumns.ImageColumn(options.OutputColumnName, OutputShape)];
    }

    /// <inheritdoc />
    public override IReadOnlyList<Array> MapBatch(DataBatch input)
    {
        var paths = input.Get<string>(options.InputColumnName);
        var shape = OutputShape;
        var output = new float[(long)paths.Length * shape.Size];
        ImageFiles.ParallelFor(paths.Length, row => DecodeRow(paths[row], input.FirstRow + row, shape).CopyTo(output, (long)row * shape.Size));
        return [output];
    }

    private float[] DecodeRow(string? path, long row, ImageShape shape)
    {
        if (string.IsNullOrEmpty(path))
            throw new InvalidDataException($"LoadImages: row {row} of column '{options.InputColumnName}' holds no file path.");
        var full = options.ImageFolder is null ? Path.GetFullPath(path) : Path.GetFullPath(path, Path.GetFullPath(options.ImageFolder));
        if (!File.Exists(full)) throw new FileNotFoundException($"LoadImages: image file '{full}' (row {row}) does not exist.", full);
        try
        {
            return ImageFiles.Decode(File.ReadAllBytes(full), shape);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"LoadImages: '{full}' (row {row}) is not a decodable image: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public void Save(ModelSaveContext context) => context.WriteOptions(options);

    /// <inheritdoc />
    public static LoadImagesTransformer Load(ModelLoadContext context)
    {
        var options = context.ReadOptions<LoadImagesOptions>();
        try { return new LoadImagesTransformer(options); }
        catch (ArgumentException ex) { throw ImageColumns.BadOptions(context, ex); }
    }
}
