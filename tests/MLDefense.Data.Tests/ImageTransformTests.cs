namespace MLDefense.Legacy.Tests;

[TestClass]
public sealed class ImageTransformTests
{
    private string folder = null!;

    [TestInitialize]
    public void CreateFolder() => folder = Directory.CreateTempSubdirectory("mld-images-").FullName;

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(folder, recursive: true);

    public sealed class PathRow
    {
        public string Path { get; set; } = "";
        public int Label { get; set; }
    }

    public sealed class RgbRow
    {
        [ImageType(3, 1, 2)] public float[] Image { get; set; } = [];
    }

    private IDataView TwoFiles(MLContext ml)
    {
        // A 2x2 RGB image already at the target size, and a 4x4 uniform grey one that must be resized.
        File.WriteAllBytes(Path.Combine(folder, "small.png"), Images.EncodePng(Enumerable.Range(0, 12).Select(i => (byte)(i * 20)).ToArray(), 2, 2, 3));
        File.WriteAllBytes(Path.Combine(folder, "big.png"), Images.EncodePng(Enumerable.Repeat((byte)51, 16).ToArray(), 4, 4, 1));
        return ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "small.png", Label = 1 }, new PathRow { Path = "big.png", Label = 2 } });
    }

    [TestMethod]
    public void LoadImagesDecodesConvertsAndResizesIntoOneShape()
    {
        var ml = new MLContext(1);
        var data = TwoFiles(ml);
        var estimator = ml.Transforms.LoadImages("Image", folder, "Path", width: 2, height: 2, channels: 3);
        var model = estimator.Fit(data);
        var output = model.Transform(data);
        Assert.IsTrue(estimator.GetOutputSchema(data.Schema).SameAs(output.Schema));
        Assert.IsTrue(model.GetOutputSchema(data.Schema).SameAs(output.Schema));
        Assert.AreEqual("Path: Text, Label: Int32, Image: Image 3x2x2", output.Schema.ToString());

        var images = output.GetBatches(8, ["Image"]).Single().Get<float>("Image");
        // small.png: HWC bytes i*20 → CHW floats.
        var expectedSmall = new float[12];
        for (int p = 0; p < 4; p++)
            for (int c = 0; c < 3; c++) expectedSmall[c * 4 + p] = (p * 3 + c) * 20 / 255f;
        CollectionAssert.AreEqual(expectedSmall, images[..12]);
        foreach (var v in images[12..]) Assert.AreEqual(0.2f, v, 1e-6f, "a uniform grey image stays uniform when resized and repeated into RGB");
    }

    [TestMethod]
    public void LoadImagesRejectsBadColumnsAndNamesBadFiles()
    {
        var ml = new MLContext(1);
        var data = TwoFiles(ml);
        var missing = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.LoadImages("Image", folder, "File", 2, 2).Fit(data));
        StringAssert.Contains(missing.Message, "'File' was not found");
        var wrongType = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.LoadImages("Image", folder, "Label", 2, 2).GetOutputSchema(data.Schema));
        StringAssert.Contains(wrongType.Message, "column 'Label' must be Text (image file paths); found Int32");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.LoadImages("Image", folder, "Path", 2, 2, channels: 2));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.LoadImages("Image", folder, "Path", 0, 2));

        File.WriteAllText(Path.Combine(folder, "broken.png"), "not a png");
        var bad = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "small.png" }, new PathRow { Path = "broken.png" } });
        var view = ml.Transforms.LoadImages("Image", folder, "Path", 2, 2).Fit(bad).Transform(bad);
        var ex = Assert.ThrowsExactly<InvalidDataException>(() => view.GetBatches(8).ToList());
        StringAssert.Contains(ex.Message, Path.Combine(folder, "broken.png"));
        StringAssert.Contains(ex.Message, "row 1");
        var absent = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "absent.png" } });
        var notFound = Assert.ThrowsExactly<FileNotFoundException>(() => ml.Transforms.LoadImages("Image", folder, "Path", 2, 2).Fit(absent).Transform(absent).GetBatches(8).ToList());
        StringAssert.Contains(notFound.Message, "absent.png");
    }

    [TestMethod]
    public void ImageFolderThenLoadImagesGivesALabelledImageDataset()
    {
        foreach (var (cls, value) in new[] { ("one", (byte)10), ("two", (byte)200) })
        {
            Directory.CreateDirectory(Path.Combine(folder, cls));
            for (int i = 0; i < 3; i++) File.WriteAllBytes(Path.Combine(folder, cls, $"{i}.png"), Images.EncodePng(Enumerable.Repeat(value, 9).ToArray(), 3, 3, 1));
        }
        var ml = new MLContext(1);
        var listed = ml.Data.LoadImagesFromFolder(folder);
        var images = ml.Transforms.LoadImages("Image", null, "ImagePath", 3, 3, channels: 1).Fit(listed).Transform(listed);
        var batch = images.GetBatches(10).Single();
        CollectionAssert.AreEqual(new[] { 0, 0, 0, 1, 1, 1 }, batch.Get<int>("Label"));
        var pixels = batch.Get<float>("Image");
        Assert.AreEqual(10 / 255f, pixels[0]);
        Assert.AreEqual(200 / 255f, pixels[^1]);
    }

    [TestMethod]
    public void ResizeImagesResizesBatchesBilinearly()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new RgbRow { Image = [0, 1, 1, 0, 0.2f, 0.2f] }, new RgbRow { Image = [1, 1, 0, 0, 0.5f, 1] } });
        var estimator = ml.Transforms.ResizeImages("Wide", width: 4, height: 1, inputColumnName: "Image");
        var output = estimator.Fit(data).Transform(data);
        Assert.IsTrue(estimator.GetOutputSchema(data.Schema).SameAs(output.Schema));
        Assert.AreEqual(new ImageShape(3, 1, 4), output.Schema["Wide"].ImageShape);
        var wide = output.GetBatches(8, ["Wide"]).Single().Get<float>("Wide");
        CollectionAssert.AreEqual(new[] { 0f, 0.25f, 0.75f, 1f, 1f, 0.75f, 0.25f, 0f, 0.2f, 0.2f, 0.2f, 0.2f }, wide[..12]);
        Assert.AreEqual(0.875f, wide[12 + 8 + 2], 1e-6f, "row 2, blue: ¼·0.5 + ¾·1");

        var inPlace = ml.Transforms.ResizeImages("Image", 1, 1).Fit(data).Transform(data);
        Assert.AreEqual("Image: Image 3x1x1", inPlace.Schema.ToString(), "the resized column hides the input of the same name");

        var wrong = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ResizeImages("X", 2, 2, "Path")
            .Fit(ml.Data.LoadFromEnumerable(new[] { new PathRow() })));
        StringAssert.Contains(wrong.Message, "column 'Path' must be an image column");
        StringAssert.Contains(wrong.Message, "found Text");
    }

    [TestMethod]
    public void ExtractPixelsConvertsChannelsAndLayout()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new RgbRow { Image = [1, 0, 0, 1, 0, 0.5f] } });

        var greyEstimator = ml.Transforms.ExtractPixels("Grey", "Image", channels: 1);
        var grey = greyEstimator.Fit(data).Transform(data);
        Assert.IsTrue(greyEstimator.GetOutputSchema(data.Schema).SameAs(grey.Schema));
        Assert.AreEqual(new ImageShape(1, 1, 2), grey.Schema["Grey"].ImageShape);
        var g = grey.GetBatches(1).Single().Get<float>("Grey");
        Assert.AreEqual(0.299f, g[0], 1e-6f);
        Assert.AreEqual(0.587f + 0.057f, g[1], 1e-6f);

        var back = ml.Transforms.ExtractPixels("Rgb", "Grey", channels: 3).Fit(grey).Transform(grey);
        CollectionAssert.AreEqual(new[] { g[0], g[1], g[0], g[1], g[0], g[1] }, back.GetBatches(1).Single().Get<float>("Rgb"));

        var modelInputEstimator = ml.Transforms.ExtractPixels("Input", "Image", interleave: true, scale: 2, offset: -1);
        var modelInput = modelInputEstimator.Fit(data).Transform(data);
        Assert.IsTrue(modelInputEstimator.GetOutputSchema(data.Schema).SameAs(modelInput.Schema));
        Assert.IsNull(modelInput.Schema["Input"].ImageShape, "scaled and interleaved values are no longer an image column");
        Assert.AreEqual(new VectorDataViewType(1, 2, 3), modelInput.Schema["Input"].Type);
        CollectionAssert.AreEqual(new[] { 1f, -1f, -1f, -1f, 1f, 0f }, modelInput.GetBatches(1).Single().Get<float>("Input"));

        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ml.Transforms.ExtractPixels("X", "Image", channels: 2));
        var notImage = Assert.ThrowsExactly<ArgumentException>(() => ml.Transforms.ExtractPixels("X", "Input").GetOutputSchema(modelInput.Schema));
        StringAssert.Contains(notImage.Message, "without an image shape");
    }

    [TestMethod]
    public void SaveImagesAsPngWritesOneExactFilePerRow()
    {
        var ml = new MLContext(1);
        var rows = Enumerable.Range(0, 3).Select(i => new RgbRow { Image = Enumerable.Range(0, 6).Select(k => (i * 6 + k) * 10 / 255f).ToArray() }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var target = Path.Combine(folder, "out");
        var paths = ml.Data.SaveImagesAsPng(data, "Image", target, "purified");
        CollectionAssert.AreEqual(new[] { "purified000000.png", "purified000001.png", "purified000002.png" }, paths.Select(Path.GetFileName).ToArray());
        for (int i = 0; i < 3; i++)
            CollectionAssert.AreEqual(rows[i].Image, ImageFiles.Decode(File.ReadAllBytes(paths[i]), 0, out _));

        var notImage = Assert.ThrowsExactly<ArgumentException>(() => ml.Data.SaveImagesAsPng(ml.Data.LoadFromEnumerable(new[] { new PathRow() }), "Label", target));
        StringAssert.Contains(notImage.Message, "column 'Label' must be an image column");
        Assert.ThrowsExactly<ArgumentException>(() => ml.Data.SaveImagesAsPng(data, "Nope", target));
    }

    [TestMethod]
    public void ImageTransformsPassTheWorkout()
    {
        var ml = new MLContext(1);
        var files = TwoFiles(ml);
        var rgb = ml.Data.LoadFromEnumerable(new[] { new RgbRow { Image = [1, 0, 0, 1, 0, 0.5f] } });
        var paths = ml.Data.LoadFromEnumerable(new[] { new PathRow { Path = "small.png" } });

        using (Workout.Run(ml, ml.Transforms.LoadImages("Image", folder, "Path", 3, 2, channels: 1), files, null,
                   [new BadInput("image column is not text", rgb, "Path")])) { }
        using (Workout.Run(ml, ml.Transforms.ResizeImages("Image", 3, 3), rgb, null,
                   [new BadInput("no image column", paths, "Image")])) { }
        using (Workout.Run(ml, ml.Transforms.ExtractPixels("P", "Image", channels: 1, interleave: true, scale: 3, offset: 1), rgb, null,
                   [new BadInput("no image column", paths, "Image")])) { }
    }
}
