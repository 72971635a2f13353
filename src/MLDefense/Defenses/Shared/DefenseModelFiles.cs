using MLDefense.Data;
using MLDefense.Legacy;

namespace MLDefense.Defenses;

/// <summary>
/// What a fitted defense records besides its weights, as far as loading cares: the image shape it was fitted on and its
/// calibrated threshold (<see cref="AeGanCalibration"/>, <see cref="MiaedModelInfo"/>, <see cref="SaecCalibrationReport"/>).
/// </summary>
internal interface IFittedImageDefense
{
    /// <summary>Channels of the images fitted on.</summary>
    int Channels { get; }
    /// <summary>Height of the images fitted on.</summary>
    int Height { get; }
    /// <summary>Width of the images fitted on.</summary>
    int Width { get; }
    /// <summary>The decision threshold: flag when score &gt; threshold.</summary>
    float Threshold { get; }
}

/// <summary>
/// Reading a defense's folder of a model zip: <c>options.json</c> and the JSON file of its fit, checked so that a file
/// that describes an impossible model fails with <see cref="InvalidDataException"/> before any network is built.
/// </summary>
internal static class DefenseModelFiles
{
    /// <summary>
    /// Reads the options and the fit record, and checks them: the options as the estimator does, the fitted image shape,
    /// then what <paramref name="checkModel"/> adds; an <see cref="ArgumentException"/> from any of these becomes
    /// "{folder} describes an impossible {model}: …". A non-finite threshold is rejected too.
    /// </summary>
    /// <param name="context">The component's folder.</param>
    /// <param name="infoFileName">The JSON file of the fit (e.g. <c>calibration.json</c>).</param>
    /// <param name="model">What the folder holds, for the message ("SAEC detector").</param>
    /// <param name="checkOptions">The estimator's option checks.</param>
    /// <param name="checkModel">Further checks of the options against the fit record and shape, if any.</param>
    internal static (TOptions Options, TInfo Info, ImageShape Shape) Read<TOptions, TInfo>(ModelLoadContext context, string infoFileName, string model,
        Action<TOptions> checkOptions, Action<TOptions, TInfo, ImageShape>? checkModel = null)
        where TInfo : IFittedImageDefense
    {
        var options = context.ReadOptions<TOptions>();
        var info = context.ReadJson<TInfo>(infoFileName);
        try
        {
            return (options, info, Check(options, info, checkOptions, checkModel));
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"{context.Folder} describes an impossible {model}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The checks of <see cref="Read"/> on options and a fit record already read: an <see cref="ArgumentException"/>
    /// says what is impossible (the ML.NET bridge's reader names the component around it). Returns the fitted shape.
    /// </summary>
    internal static ImageShape Check<TOptions, TInfo>(TOptions options, TInfo info, Action<TOptions> checkOptions, Action<TOptions, TInfo, ImageShape>? checkModel = null)
        where TInfo : IFittedImageDefense
    {
        var shape = new ImageShape(info.Channels, info.Height, info.Width);
        checkOptions(options);
        shape.Validate();
        checkModel?.Invoke(options, info, shape);
        if (!float.IsFinite(info.Threshold)) throw new ArgumentException($"the threshold {info.Threshold} is not finite.");
        return shape;
    }
}
