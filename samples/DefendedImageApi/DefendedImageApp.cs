using System.Globalization;
using System.Text.Json.Serialization;

namespace MLDefense.Samples.ImageApi;

/// <summary>The answer of <c>POST /predict</c>.</summary>
/// <param name="Label">The predicted class's name.</param>
/// <param name="LabelIndex">The predicted class's index.</param>
/// <param name="Probabilities">The classifier's probability per class name (on the purified image).</param>
/// <param name="Scores">Each defense's score (higher = more likely adversarial).</param>
/// <param name="Flags">Each defense's flag (its score above the threshold it calibrated on clean images).</param>
/// <param name="IsAdversarial">True when any defense flags the image.</param>
/// <param name="PurifiedImage">The purified image as base64 PNG, with <c>?purified=true</c>; otherwise left out.</param>
public sealed record PredictionResponse(string Label, int LabelIndex, IReadOnlyDictionary<string, float> Probabilities, DefenseScores Scores,
    DefenseFlags Flags, bool IsAdversarial, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? PurifiedImage);

/// <summary>The three defenses' scores.</summary>
/// <param name="Saec">SAEC (MixDefense's statistical layer) on the input.</param>
/// <param name="AeGan">AE-GAN+sr's reconstruction error of the input.</param>
/// <param name="Miaed">MIAED's divergence on the purified image.</param>
public sealed record DefenseScores(float Saec, [property: JsonPropertyName("aegan")] float AeGan, float Miaed);

/// <summary>The three defenses' flags.</summary>
/// <param name="Saec">SAEC's flag.</param>
/// <param name="AeGan">AE-GAN+sr's flag.</param>
/// <param name="Miaed">MIAED's flag.</param>
public sealed record DefenseFlags(bool Saec, [property: JsonPropertyName("aegan")] bool AeGan, bool Miaed);

/// <summary>The body of every refusal.</summary>
/// <param name="Error">What was wrong.</param>
public sealed record ErrorResponse(string Error);

/// <summary>The answer of <c>GET /health</c>.</summary>
/// <param name="Status">"ok".</param>
/// <param name="Model">The model zip's path.</param>
/// <param name="InputShape">[C, H, W] of the images the model takes.</param>
/// <param name="Classes">The class names.</param>
/// <param name="MaxUploadBytes">The largest upload accepted.</param>
public sealed record HealthResponse(string Status, string Model, int[] InputShape, IReadOnlyList<string> Classes, long MaxUploadBytes);

/// <summary>
/// The web app: loads the defended model zip once and serves <c>POST /predict</c> and <c>GET /health</c>.
/// Settings (appsettings.json, environment variables, or the command line): <c>ModelPath</c> (<c>--model</c>),
/// <c>MaxUploadBytes</c> (<c>--max-upload-bytes</c>, default 1 MiB), and ASP.NET Core's own, such as <c>--urls</c>.
/// </summary>
/// <remarks>
/// The content root (where <c>appsettings.json</c> is read) is the app's own folder, where the build copies it; a relative
/// <c>ModelPath</c> is taken from the current directory. <c>dotnet run --project</c> starts the app in the caller's
/// directory (the project sets <c>EnableDefaultRunWorkingDirectory</c> to false; web projects otherwise start in their
/// project folder), so <c>--model DefendedClassifier.zip</c> means the zip where the command was typed.
/// </remarks>
public static class DefendedImageApp
{
    /// <summary>The upload limit when none is configured: 1 MiB (a 28×28 PNG is under 1 KiB).</summary>
    public const long DefaultMaxUploadBytes = 1024 * 1024;

    /// <summary>
    /// Builds the app, loading the model now, so that a missing or wrong zip fails here with a clear message rather than
    /// at the first request. Tests start it in-process with <c>--urls http://127.0.0.1:0</c> and read <c>app.Urls</c>.
    /// </summary>
    /// <param name="args">Command-line arguments (<c>--model PATH</c>, <c>--max-upload-bytes N</c>, <c>--urls URL</c>...).</param>
    /// <param name="configure">Optional changes to the builder before the app is built (logging, extra services).</param>
    /// <exception cref="FileNotFoundException">There is no model at the configured path.</exception>
    /// <exception cref="ArgumentException">The model is not a defended 1×28×28 pipeline, or a setting is invalid.</exception>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddCommandLine(args, new Dictionary<string, string>
        {
            ["--model"] = "ModelPath",
            ["--max-upload-bytes"] = "MaxUploadBytes",
        });
        configure?.Invoke(builder);

        var modelPath = builder.Configuration["ModelPath"] ?? "DefendedClassifier.zip";
        var maxUploadText = builder.Configuration["MaxUploadBytes"];
        long maxUploadBytes = maxUploadText is null ? DefaultMaxUploadBytes
            : long.TryParse(maxUploadText, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit > 0 ? limit
            : throw new ArgumentException($"MaxUploadBytes must be a positive integer, got '{maxUploadText}'.");

        // Kestrel refuses bodies a little larger than an upload may be (room for multipart framing), before reading them.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = maxUploadBytes + ImageUpload.MultipartOverheadBytes);

        var model = DefendedModel.Load(modelPath);
        builder.Services.AddSingleton(model);
        var app = builder.Build();
        app.Lifetime.ApplicationStopped.Register(model.Dispose);
        // A failure inside the model is the server's fault: 500, but still with a JSON body like every other answer.
        app.UseExceptionHandler(failed => failed.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return context.Response.WriteAsJsonAsync(new ErrorResponse("The model failed on this request; see the server's log."));
        }));
        // Answers that ASP.NET Core gives without a body (405 for a wrong method, 404 for an unknown path) get a JSON one too.
        app.UseStatusCodePages(context => context.HttpContext.Response.WriteAsJsonAsync(new ErrorResponse(StatusMessage(context.HttpContext))));

        app.MapGet("/health", () => TypedResults.Ok(new HealthResponse("ok", model.Path,
            [DefendedModel.InputShape.Channels, DefendedModel.InputShape.Height, DefendedModel.InputShape.Width], model.ClassNames, maxUploadBytes)));

        app.MapPost("/predict", async (HttpRequest request, string? purified, CancellationToken cancellationToken) =>
        {
            bool withPurified = false;
            if (purified is not null && !bool.TryParse(purified, out withPurified))
                return Refuse(new UploadError(StatusCodes.Status400BadRequest, $"Query parameter 'purified' must be true or false, got '{purified}'."));
            var (bytes, readError) = await ImageUpload.ReadAsync(request, maxUploadBytes, cancellationToken);
            if (readError is not null) return Refuse(readError);
            var (image, decodeError) = ImageUpload.Decode(bytes!, DefendedModel.InputShape);
            if (decodeError is not null) return Refuse(decodeError);
            var prediction = model.Predict(image!);
            return Results.Ok(Respond(prediction, model.ClassNames, withPurified));
        }).DisableAntiforgery();

        return app;
    }

    private static string StatusMessage(HttpContext context)
    {
        var (request, response) = (context.Request, context.Response);
        string endpoints = "the API serves POST /predict and GET /health";
        return response.StatusCode switch
        {
            StatusCodes.Status405MethodNotAllowed =>
                $"{request.Method} is not allowed on {request.Path}; use {(response.Headers.Allow.Count > 0 ? string.Join(", ", response.Headers.Allow.ToArray()) : "another method")} ({endpoints}).",
            StatusCodes.Status404NotFound => $"Nothing at {request.Path}: {endpoints}.",
            var status => $"The request failed with status {status} ({endpoints}).",
        };
    }

    private static IResult Refuse(UploadError error) => Results.Json(new ErrorResponse(error.Message), statusCode: error.StatusCode);

    private static PredictionResponse Respond(ImagePrediction p, IReadOnlyList<string> classNames, bool withPurified)
    {
        var probabilities = new Dictionary<string, float>(classNames.Count);
        for (int k = 0; k < p.Score.Length; k++) probabilities[classNames[k]] = p.Score[k];
        string? purifiedPng = withPurified ? Convert.ToBase64String(ImageUpload.EncodePng(p.Purified, DefendedModel.InputShape)) : null;
        int index = p.PredictedIndex;
        string label = index >= 0 && index < classNames.Count ? classNames[index] : "(none)";
        return new PredictionResponse(label, index, probabilities,
            new DefenseScores(p.SaecScore, p.AeGanScore, p.MiaedScore), new DefenseFlags(p.SaecFlag, p.AeGanFlag, p.MiaedFlag),
            p.SaecFlag || p.AeGanFlag || p.MiaedFlag, purifiedPng);
    }
}
