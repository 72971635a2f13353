using MLDefense.Data;

namespace MLDefense.Legacy;

/// <summary>Lists an image dataset laid out as one sub-folder per class (the layout of ImageNet and of ML.NET's image samples).</summary>
public static class ImageFolderReaderExtensions
{
    /// <summary>
    /// Lists the image files under <paramref name="folder"/>: each sub-folder is a class, labelled by its position
    /// in the ordinal order of the sub-folder names (0..K−1); its files with the extensions in
    /// <see cref="Images.DecodableExtensions"/> (any case, searched recursively) are its images, in ordinal order of
    /// their paths. Sub-folders whose names start with '.' are skipped. Nothing is decoded here: follow with
    /// <c>ml.Transforms.LoadImages</c>.
    /// <list type="table">
    /// <listheader><term>output column</term><description>type</description></listheader>
    /// <item><term><paramref name="imagePathColumnName"/></term><description>Text, the full path of the image file</description></item>
    /// <item><term><paramref name="labelColumnName"/></term><description>Int32, the class index, with the class (sub-folder) names as slot names</description></item>
    /// </list>
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">The folder has no class sub-folders, or they hold no image files.</exception>
    public static IDataView LoadImagesFromFolder(this DataOperationsCatalog catalog, string folder,
        string imagePathColumnName = "ImagePath", string labelColumnName = "Label")
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (imagePathColumnName == labelColumnName) throw new ArgumentException($"The path and label columns need different names (both are '{labelColumnName}').");
        var root = Path.GetFullPath(folder);
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");

        var classFolders = Directory.GetDirectories(root)
            .Where(d => !Path.GetFileName(d).StartsWith('.'))
            .Order(StringComparer.Ordinal).ToArray();
        if (classFolders.Length == 0)
            throw new InvalidDataException($"Image folder '{root}' has no sub-folders; it needs one sub-folder of images per class.");

        var paths = new List<string>();
        var labels = new List<int>();
        for (int label = 0; label < classFolders.Length; label++)
        {
            var files = Directory.EnumerateFiles(classFolders[label], "*", SearchOption.AllDirectories)
                .Where(IsImageFile)
                .Where(f => !Path.GetRelativePath(classFolders[label], f).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
                .Order(StringComparer.Ordinal);
            foreach (var file in files)
            {
                paths.Add(file);
                labels.Add(label);
            }
        }
        if (paths.Count == 0)
            throw new InvalidDataException($"The class sub-folders of '{root}' hold no image files ({string.Join(", ", Images.DecodableExtensions)}).");

        var classNames = classFolders.Select(Path.GetFileName).ToArray();
        var schema = new DataViewSchema([
            new DataViewSchema.Column(imagePathColumnName, TextDataViewType.Instance),
            LegacyLabelColumns.LabelColumn(labelColumnName, classNames!),
        ]);
        return new InMemoryDataView(schema, [paths.ToArray(), labels.ToArray()]);
    }

    private static bool IsImageFile(string path) =>
        Images.DecodableExtensions.Contains(Path.GetExtension(path).ToLowerInvariant());
}
