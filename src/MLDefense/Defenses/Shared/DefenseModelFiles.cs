using MLDefense.Data;

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
/// Checking what a defense's part of a model zip describes (its options and the record of its fit), so that a model
/// that describes an impossible defense fails before any network is built.
/// </summary>
internal static class DefenseModelFiles
{
    /// <summary>
    /// Checks options and a fit record read from a model: the options as the estimator does, the fitted image shape,
    /// then what <paramref name="checkModel"/> adds, and a finite threshold. An <see cref="ArgumentException"/> says what
    /// is impossible (the ML.NET bridge's reader names the component around it). Returns the fitted shape.
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
