using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.ML;
using MLDefense.Samples.ImageApi;
using MLDefense.Torch;

namespace MLDefense.Samples.Tests;

/// <summary>
/// The DefendedImageApi sample started in-process on 127.0.0.1 (a free port) with the tiny defended model, called over
/// HTTP: real uploads, bad uploads, and many requests at once.
/// </summary>
[TestClass]
public sealed class DefendedImageApiTests
{
    private const long UploadLimit = 4096;
    private static WebApplication? app;
    private static HttpClient? client;
    private static DefendedModel? reference;

    private static HttpClient Client => client ?? throw new InvalidOperationException("The app did not start.");

    [ClassInitialize]
    public static async Task StartApp(TestContext context)
    {
        var model = TinyDefendedModel.Value.ModelPath;
        app = DefendedImageApp.Build(["--urls", "http://127.0.0.1:0", "--model", model, "--max-upload-bytes", UploadLimit.ToString()],
            builder => builder.Logging.ClearProviders());
        await app.StartAsync();
        var address = app.Urls.Single();
        Assert.IsFalse(address.EndsWith(":0", StringComparison.Ordinal), $"Kestrel reports the port it bound: {address}");
        client = new HttpClient { BaseAddress = new Uri(address) };
        // The same zip loaded beside the app: what the API answers must be what the model computes.
        reference = DefendedModel.Load(model);
    }

    [ClassCleanup]
    public static async Task StopApp()
    {
        client?.Dispose();
        if (app is not null)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        reference?.Dispose();
    }

    private static byte[] Png(float[] image, int height = 28, int width = 28, int channels = 1) =>
        ImageUpload.EncodePng(image, new ImageSize(channels, height, width));

    private static ByteArrayContent Raw(byte[] bytes, string contentType = "image/png")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return content;
    }

    private static MultipartFormDataContent Form(byte[] bytes, string field = "image", string fileName = "upload.png")
    {
        var form = new MultipartFormDataContent();
        form.Add(Raw(bytes), field, fileName);
        return form;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body, string Text)> PostAsync(HttpContent content, string query = "")
    {
        using var response = await Client.PostAsync("/predict" + query, content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.AreEqual("application/json", response.Content.Headers.ContentType?.MediaType, $"{(int)response.StatusCode}: {text}");
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), text);
    }

    /// <summary>Checks an answer's fields against the model's own prediction for the pixels the API decoded.</summary>
    private static void AssertAnswers(JsonElement body, float[] pixels)
    {
        var expected = reference!.Predict(pixels);
        var names = reference.ClassNames;
        Assert.AreEqual(expected.PredictedIndex, body.GetProperty("labelIndex").GetInt32());
        Assert.AreEqual(names[expected.PredictedIndex], body.GetProperty("label").GetString());

        var probabilities = body.GetProperty("probabilities").EnumerateObject().ToList();
        CollectionAssert.AreEqual(names.ToArray(), probabilities.Select(p => p.Name).ToArray());
        for (int k = 0; k < names.Count; k++) Assert.AreEqual(expected.Score[k], probabilities[k].Value.GetSingle(), 1e-5f, names[k]);

        var scores = body.GetProperty("scores");
        Assert.AreEqual(expected.SaecScore, scores.GetProperty("saec").GetSingle(), 1e-5f);
        Assert.AreEqual(expected.AeGanScore, scores.GetProperty("aegan").GetSingle(), 1e-5f);
        Assert.AreEqual(expected.MiaedScore, scores.GetProperty("miaed").GetSingle(), 1e-5f);
        var flags = body.GetProperty("flags");
        Assert.AreEqual(expected.SaecFlag, flags.GetProperty("saec").GetBoolean());
        Assert.AreEqual(expected.AeGanFlag, flags.GetProperty("aegan").GetBoolean());
        Assert.AreEqual(expected.MiaedFlag, flags.GetProperty("miaed").GetBoolean());
        Assert.AreEqual(expected.SaecFlag || expected.AeGanFlag || expected.MiaedFlag, body.GetProperty("isAdversarial").GetBoolean());
    }

    [TestMethod]
    public async Task APngUploadGetsTheDefendedModelsAnswer()
    {
        var image = TinyDefendedModel.TestImages(1)[0].Image;
        var png = Png(image);
        var (status, body, text) = await PostAsync(Raw(png));
        Assert.AreEqual(HttpStatusCode.OK, status, text);
        Assert.IsFalse(body.TryGetProperty("purifiedImage", out _), "the purified image is sent only when asked for");
        // PNG is lossless, so the API decodes exactly the test image's pixels.
        AssertAnswers(body, image);

        // The same bytes as the file field of a multipart form give the same answer.
        var (formStatus, _, formText) = await PostAsync(Form(png));
        Assert.AreEqual(HttpStatusCode.OK, formStatus, formText);
        Assert.AreEqual(text, formText);
    }

    [TestMethod]
    public async Task AJpegUploadIsDecodedWithTheProjectsImageCode()
    {
        var jpeg = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "fashion-test-0.jpg"));
        var (status, body, text) = await PostAsync(Raw(jpeg, "image/jpeg"));
        Assert.AreEqual(HttpStatusCode.OK, status, text);
        AssertAnswers(body, ImageUpload.ToChw(Images.Decode(jpeg, channels: 1)));
    }

    [TestMethod]
    public async Task ThePurifiedImageComesBackAsABase64Png()
    {
        var image = TinyDefendedModel.TestImages(2)[1].Image;
        var (status, body, text) = await PostAsync(Raw(Png(image)), "?purified=true");
        Assert.AreEqual(HttpStatusCode.OK, status, text);
        var png = Convert.FromBase64String(body.GetProperty("purifiedImage").GetString()!);
        var decoded = Images.Decode(png);
        Assert.AreEqual(DefendedModel.InputShape, new ImageSize(decoded.Channels, decoded.Height, decoded.Width));
        var purified = ImageUpload.ToChw(decoded);
        var expected = reference!.Predict(image).Purified;
        for (int i = 0; i < expected.Length; i++)
            Assert.AreEqual(Math.Clamp(expected[i], 0, 1), purified[i], 0.5f / 255 + 1e-6f, $"pixel {i}: PNG keeps 8 bits");
        Assert.IsTrue(purified.Zip(image).Any(p => p.First != p.Second), "the purifier changes the image");
    }

    [TestMethod]
    public async Task UploadsThatAreNotImagesGet400WithAMessage()
    {
        var cases = new (HttpContent Content, string Message)[]
        {
            (Raw("hello, not an image"u8.ToArray()), "not a PNG or JPEG"),
            (Raw([]), "empty"),
            // A PNG signature followed by garbage: no IHDR chunk, refused from the header.
            (Raw([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 4, 5, 6, 7, 8]), "not a decodable image"),
            // A real 28×28 PNG cut off after its header: the size is right, the pixels are missing; SkiaSharp refuses it.
            (Raw(Png(new float[784])[..45]), "not a decodable image"),
            (Form("GIF89a"u8.ToArray()), "not a PNG or JPEG"),
            (Form(Png(new float[784]), field: "picture"), "no file field named 'image'"),
        };
        foreach (var (content, message) in cases)
        {
            var (status, body, text) = await PostAsync(content);
            Assert.AreEqual(HttpStatusCode.BadRequest, status, text);
            StringAssert.Contains(body.GetProperty("error").GetString(), message);
        }

        var (queryStatus, queryBody, queryText) = await PostAsync(Raw(Png(new float[784])), "?purified=maybe");
        Assert.AreEqual(HttpStatusCode.BadRequest, queryStatus, queryText);
        StringAssert.Contains(queryBody.GetProperty("error").GetString(), "'purified' must be true or false");
    }

    [TestMethod]
    public async Task AnImageOfTheWrongSizeGets422()
    {
        var (status, body, text) = await PostAsync(Raw(Png(new float[3 * 32 * 32], 32, 32, 3)));
        Assert.AreEqual(HttpStatusCode.UnprocessableEntity, status, text);
        StringAssert.Contains(body.GetProperty("error").GetString(), "32×32");
        StringAssert.Contains(body.GetProperty("error").GetString(), "28×28");

        // A colour image of the right size is converted to grey and accepted.
        var (colourStatus, _, colourText) = await PostAsync(Raw(Png(new float[3 * 28 * 28], 28, 28, 3)));
        Assert.AreEqual(HttpStatusCode.OK, colourStatus, colourText);
    }

    [TestMethod]
    public async Task UploadsOverTheLimitGet413()
    {
        var big = new byte[UploadLimit + 1];
        new Random(3).NextBytes(big);
        var bigger = new byte[UploadLimit + 2 * ImageUpload.MultipartOverheadBytes];
        var cases = new (string Name, HttpContent Content)[]
        {
            ("raw body with a length", Raw(big)),
            ("raw body sent in chunks (no length)", Chunked(big, "image/png")),
            ("multipart file over the limit", Form(big)),
            ("multipart body over Kestrel's limit, in chunks", ChunkedForm(bigger)),
        };
        foreach (var (name, content) in cases)
        {
            var (status, body, text) = await PostAsync(content);
            Assert.AreEqual(HttpStatusCode.RequestEntityTooLarge, status, $"{name}: {text}");
            StringAssert.Contains(body.GetProperty("error").GetString(), $"limit of {UploadLimit} bytes", name);
        }

        static HttpContent Chunked(byte[] bytes, string contentType)
        {
            var content = new StreamContent(new NonSeekableStream(bytes));
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            return content;
        }

        static HttpContent ChunkedForm(byte[] bytes)
        {
            var form = new MultipartFormDataContent();
            form.Add(Chunked(bytes, "image/png"), "image", "upload.png");
            return form;
        }
    }

    [TestMethod]
    public async Task AMultipartBodyCutOffOrWithoutFramingGets400()
    {
        var form = Form(Png(TinyDefendedModel.TestImages(1)[0].Image));
        var whole = await form.ReadAsByteArrayAsync();
        var contentType = form.Headers.ContentType!.ToString();
        var cases = new (string Name, byte[] Body, string ContentType)[]
        {
            ("cut off mid-file", whole[..(whole.Length / 2)], contentType),
            ("everything but the closing boundary", whole[..(whole.Length - 8)], contentType),
            ("'xxxx' under a multipart content type", "xxxx"u8.ToArray(), "multipart/form-data; boundary=abc"),
        };
        foreach (var (name, bytes, type) in cases)
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
            var (status, body, text) = await PostAsync(content);
            Assert.AreEqual(HttpStatusCode.BadRequest, status, $"{name}: {text}");
            StringAssert.Contains(body.GetProperty("error").GetString(), "ends before its closing boundary", name);
        }

        // The whole body still works: the refusals were about the cut, not the form.
        var full = new ByteArrayContent(whole);
        full.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var (okStatus, _, okText) = await PostAsync(full);
        Assert.AreEqual(HttpStatusCode.OK, okStatus, okText);
    }

    [TestMethod]
    public async Task AHeaderClaimingAHugeImageIsRefusedAsTooLarge()
    {
        // A real 28×28 PNG whose IHDR chunk (with its CRC fixed) says 100000×100000: refused from the header, before decoding.
        var png = Png(new float[784]);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 100_000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 100_000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32(png.AsSpan(12, 17)));
        var (status, body, text) = await PostAsync(Raw(png));
        Assert.AreEqual(HttpStatusCode.UnprocessableEntity, status, text);
        StringAssert.Contains(body.GetProperty("error").GetString(), "100000×100000 pixels, too large");
        StringAssert.Contains(body.GetProperty("error").GetString(), "28×28");

        // The same for a JPEG's frame header (SOF0 holds height, then width).
        var jpeg = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "fashion-test-0.jpg"));
        int sof = Enumerable.Range(2, jpeg.Length - 3).First(i => jpeg[i] == 0xFF && jpeg[i + 1] is 0xC0 or 0xC2);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), 60_000);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), 50_000);
        var (jpegStatus, jpegBody, jpegText) = await PostAsync(Raw(jpeg, "image/jpeg"));
        Assert.AreEqual(HttpStatusCode.UnprocessableEntity, jpegStatus, jpegText);
        StringAssert.Contains(jpegBody.GetProperty("error").GetString(), "50000×60000 pixels, too large");

        // And a small one is "too small".
        var (smallStatus, smallBody, smallText) = await PostAsync(Raw(Png(new float[8 * 8], 8, 8)));
        Assert.AreEqual(HttpStatusCode.UnprocessableEntity, smallStatus, smallText);
        StringAssert.Contains(smallBody.GetProperty("error").GetString(), "8×8 pixels, too small");
    }

    /// <summary>PNG's CRC-32 (ISO-HDLC: reflected 0xEDB88320, initial and final XOR 0xFFFFFFFF).</summary>
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    [TestMethod]
    public async Task AWrongMethodOrPathGetsAJsonError()
    {
        using (var response = await Client.GetAsync("/predict"))
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.MethodNotAllowed, response.StatusCode, text);
            Assert.AreEqual("application/json", response.Content.Headers.ContentType?.MediaType, text);
            CollectionAssert.AreEqual(new[] { "POST" }, response.Content.Headers.Allow.ToArray());
            var error = JsonDocument.Parse(text).RootElement.GetProperty("error").GetString();
            StringAssert.Contains(error, "GET is not allowed on /predict; use POST");
        }
        using (var response = await Client.GetAsync("/no-such-thing"))
        {
            var text = await response.Content.ReadAsStringAsync();
            Assert.AreEqual(HttpStatusCode.NotFound, response.StatusCode, text);
            StringAssert.Contains(JsonDocument.Parse(text).RootElement.GetProperty("error").GetString(), "Nothing at /no-such-thing");
        }
    }

    [TestMethod]
    public async Task OtherContentTypesGet415()
    {
        var (status, body, text) = await PostAsync(Raw(Png(new float[784]), "text/plain"));
        Assert.AreEqual(HttpStatusCode.UnsupportedMediaType, status, text);
        StringAssert.Contains(body.GetProperty("error").GetString(), "multipart/form-data");
    }

    [TestMethod]
    public async Task ManyRequestsAtOnceGetTheSameAnswersAsOneAtATime()
    {
        var uploads = TinyDefendedModel.TestImages(16).Select(row => Png(row.Image)).ToList();
        // The pool starts with the one engine Load made; concurrent requests borrow more, so this also checks engines made later.
        var sequential = new List<string>();
        foreach (var png in uploads)
        {
            var (status, _, text) = await PostAsync(Raw(png), "?purified=true");
            Assert.AreEqual(HttpStatusCode.OK, status, text);
            sequential.Add(text);
        }

        // 16 uploads, each sent twice, all in flight together.
        var parallel = await Task.WhenAll(Enumerable.Range(0, 2 * uploads.Count).Select(i => Task.Run(() => PostAsync(Raw(uploads[i % uploads.Count]), "?purified=true"))));
        for (int i = 0; i < parallel.Length; i++)
        {
            Assert.AreEqual(HttpStatusCode.OK, parallel[i].Status, parallel[i].Text);
            var expected = JsonDocument.Parse(sequential[i % uploads.Count]).RootElement;
            var actual = parallel[i].Body;
            Assert.AreEqual(expected.GetProperty("labelIndex").GetInt32(), actual.GetProperty("labelIndex").GetInt32(), $"request {i}");
            Assert.AreEqual(expected.GetProperty("isAdversarial").GetBoolean(), actual.GetProperty("isAdversarial").GetBoolean(), $"request {i}");
            Assert.AreEqual(expected.GetProperty("flags").GetRawText(), actual.GetProperty("flags").GetRawText(), $"request {i}");
            foreach (var score in new[] { "saec", "aegan", "miaed" })
                Assert.AreEqual(expected.GetProperty("scores").GetProperty(score).GetSingle(), actual.GetProperty("scores").GetProperty(score).GetSingle(), 1e-5f, $"request {i}: {score}");
            Assert.AreEqual(expected.GetProperty("purifiedImage").GetString(), actual.GetProperty("purifiedImage").GetString(), $"request {i}");
        }
        Assert.IsTrue(sequential.Distinct().Count() > 1, "different images get different answers");
    }

    [TestMethod]
    public void TheEnginePoolServesMoreThreadsThanItKeeps()
    {
        // More predictions at once than the pool keeps engines (twice the processor count), in rounds with collections
        // between them: engines the pool drops must not take the shared model down with them.
        using var model = DefendedModel.Load(TinyDefendedModel.Value.ModelPath);
        var images = TinyDefendedModel.TestImages(8).Select(row => row.Image).ToArray();
        var sequential = images.Select(model.Predict).ToArray();
        int threads = 4 * Environment.ProcessorCount + 8;
        for (int round = 0; round < 3; round++)
        {
            var results = new ImagePrediction[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => results[i] = model.Predict(images[i % images.Length]));
            for (int i = 0; i < threads; i++)
            {
                var expected = sequential[i % images.Length];
                Assert.AreEqual(expected.PredictedLabel, results[i].PredictedLabel, $"round {round}, call {i}");
                Assert.AreEqual(expected.AeGanScore, results[i].AeGanScore, 1e-5f, $"round {round}, call {i}");
                Assert.AreEqual(expected.MiaedScore, results[i].MiaedScore, 1e-5f, $"round {round}, call {i}");
                CollectionAssert.AreEqual(expected.Purified, results[i].Purified, $"round {round}, call {i}");
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    [TestMethod]
    public async Task HealthReportsTheModel()
    {
        using var response = await Client.GetAsync("/health");
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.AreEqual("ok", body.GetProperty("status").GetString());
        Assert.AreEqual(TinyDefendedModel.Value.ModelPath, body.GetProperty("model").GetString());
        CollectionAssert.AreEqual(new[] { 1, 28, 28 }, body.GetProperty("inputShape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.AreEqual("Ankle boot", body.GetProperty("classes")[9].GetString());
        Assert.AreEqual(UploadLimit, body.GetProperty("maxUploadBytes").GetInt64());
    }

    [TestMethod]
    public void AMissingModelFailsAtBuildWithItsPath()
    {
        var missing = Path.Combine(TinyDefendedModel.TemporaryFolder, "no-such-model.zip");
        var ex = Assert.ThrowsExactly<FileNotFoundException>(() => DefendedImageApp.Build(["--model", missing], b => b.Logging.ClearProviders()));
        StringAssert.Contains(ex.Message, missing);
    }

    [TestMethod]
    public void TheMainJobsZipIsServedAsItIs()
    {
        // The main job (scripts/main.sh → DefendedPipelineJob) writes the defended.zip this app serves: run it briefly and
        // load its zip the way the app does. What the app predicts must be what the job's own reloaded model predicted.
        var zip = Path.Combine(TinyDefendedModel.TemporaryFolder, "defended.zip");
        var job = MLDefense.Jobs.DefendedPipelineJob.Run(new MLDefense.Jobs.DefendedPipelineJobOptions
        {
            TrainImages = 300, TestImages = 10, ClassifierEpochs = 1, AeGanEpochs = 1, MiaedEpochs = 1, MiaedSimpleNetworkEpochs = 1,
            PgdIterations = 2, PredictionExamples = 2, OutputPath = zip, Seed = 1,
        });
        using var model = DefendedModel.Load(zip);
        CollectionAssert.AreEqual(new[] { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" },
            model.ClassNames.ToArray());
        var images = TinyDefendedModel.TestImages(2);
        var examples = job.Examples.Where(e => e.Set == "clean").ToList();
        Assert.AreEqual(2, examples.Count, string.Join("; ", job.Examples));
        foreach (var example in examples)
        {
            var p = model.Predict(images[example.Index].Image);
            Assert.AreEqual(example.PredictedLabel, model.ClassNames[p.PredictedIndex], $"clean #{example.Index}");
            Assert.AreEqual(example.Confidence, p.Score.Max(), 1e-4, $"clean #{example.Index}");
        }
    }

    [TestMethod]
    public void AZipThatIsNotADefendedModelFailsAtBuildSayingWhy()
    {
        // Not a model at all.
        var garbage = Path.Combine(TinyDefendedModel.TemporaryFolder, "not-a-model.zip");
        File.WriteAllText(garbage, "xxxx");
        var notZip = Assert.ThrowsExactly<InvalidDataException>(() => DefendedImageApp.Build(["--model", garbage], b => b.Logging.ClearProviders()));
        StringAssert.Contains(notZip.Message, garbage);
        StringAssert.Contains(notZip.Message, "not an ML.NET model zip");

        // An ML.NET model of the right input that is not the defended pipeline: the missing columns are named.
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(TinyDefendedModel.TestImages(2));
        var copy = Path.Combine(TinyDefendedModel.TemporaryFolder, "not-defended.zip");
        ml.Model.Save(ml.Transforms.CopyColumns("Copy", "Image").Fit(rows), rows.Schema, copy);
        var notDefended = Assert.ThrowsExactly<ArgumentException>(() => DefendedImageApp.Build(["--model", copy], b => b.Logging.ClearProviders()));
        StringAssert.Contains(notDefended.Message, copy);
        StringAssert.Contains(notDefended.Message, "'SaecScore'");
        StringAssert.Contains(notDefended.Message, "'MiaedFlag'");
    }

    /// <summary>A stream whose length is unknown, so that HttpClient sends it chunked, without Content-Length.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
    }
}
