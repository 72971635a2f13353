using MLDefense.Data;
using Microsoft.ML;

namespace MLDefense.Evaluation;

/// <summary>
/// A detector as the evaluation protocols see it: a batched scoring function over image tensors (higher = more
/// adversarial) and the threshold above which it flags (<see cref="ThresholdCalibration.IsFlagged"/>).
/// </summary>
/// <remarks>
/// Why a function over tensors rather than a transformer: the protocols build their sets (clean, noisy, adversarial)
/// as tensors on the classifier's device, batch by batch, and a scoring function lets a defense score them where they
/// are, without a round trip through a data view. A fitted detector transformer (or a chain: the classifier followed
/// by MIAED, which reads the classifier's Score column) plugs in through <see cref="FromTransformer"/>.
/// The function receives images [n, C, H, W] in [0, 1] on the classifier's device and must return n scores; it must not
/// dispose its input. Any tensors it creates are freed with the protocol's batch.
/// </remarks>
/// <param name="Name">A name for tables (e.g. <c>MIAED</c>).</param>
/// <param name="Score">The batched scoring function.</param>
/// <param name="Threshold">The detector's threshold, usually calibrated on clean data at Fit.</param>
public sealed record EvaluatedDetector(string Name, Func<Tensor, float[]> Score, double Threshold)
{
    /// <summary>
    /// Wraps a fitted detector transformer: each batch of images becomes a one-column data view
    /// (<paramref name="imageColumnName"/>, a <c>Vector&lt;Single, C, H, W&gt;</c>), goes through <paramref name="detector"/>,
    /// and the float column <paramref name="scoreColumnName"/> is read back.
    /// </summary>
    /// <param name="name">A name for tables.</param>
    /// <param name="detector">The fitted transformer (or chain) that adds the score column.</param>
    /// <param name="scoreColumnName">The score column it adds (a float per row).</param>
    /// <param name="threshold">Its threshold.</param>
    /// <param name="imageColumnName">The image column it reads.</param>
    public static EvaluatedDetector FromTransformer(string name, ITransformer detector, string scoreColumnName, double threshold, string imageColumnName = "Image")
    {
        ArgumentNullException.ThrowIfNull(detector);
        return new(name, images => ScoreThroughTransformer(detector, images, imageColumnName, scoreColumnName), threshold);
    }

    private static float[] ScoreThroughTransformer(ITransformer detector, Tensor images, string imageColumnName, string scoreColumnName)
    {
        var s = images.shape;
        if (s.Length != 4) throw new ArgumentException($"Expected images [N, C, H, W]; found [{string.Join(", ", s)}].", nameof(images));
        var shape = new ImageShape((int)s[1], (int)s[2], (int)s[3]);
        var view = ImageRecordsDataView.ImagesOnly(shape, TensorData.ToArray(images), imageColumnName);
        int rows = (int)s[0];
        var scores = new float[rows];
        int filled = 0;
        foreach (var batch in DataViewBatches.Read(detector.Transform(view), [scoreColumnName], Math.Max(rows, 1)))
        {
            var part = batch.Get<float>(scoreColumnName);
            part.CopyTo(scores, filled);
            filled += part.Length;
        }
        if (filled != rows) throw new InvalidOperationException($"The detector returned {filled} scores for {rows} images.");
        return scores;
    }
}

/// <summary>Scoring functions from a reconstruction (autoencoder, AE-GAN's G(F(x)), MagNet), for detection by reconstruction error (AE-GAN Sec. 3.4).</summary>
public static class ReconstructionErrorScores
{
    /// <summary>Per image, the mean squared difference between the image and its reconstruction (the scores are copied to the host, detached).</summary>
    public static Func<Tensor, float[]> MeanSquared(Func<Tensor, Tensor> reconstruct) => images => Score(reconstruct, images, squared: true);

    /// <summary>Per image, the mean absolute difference (AE-GAN App. F finds L1 the better detector).</summary>
    public static Func<Tensor, float[]> MeanAbsolute(Func<Tensor, Tensor> reconstruct) => images => Score(reconstruct, images, squared: false);

    private static float[] Score(Func<Tensor, Tensor> reconstruct, Tensor images, bool squared)
    {
        ArgumentNullException.ThrowIfNull(reconstruct);
        using var scope = torch.NewDisposeScope();
        // No no_grad scope here: a reconstruction may itself search by gradient descent (AE-GAN's latent search).
        var reconstruction = reconstruct(images);
        var difference = reconstruction - images;
        var perPixel = squared ? difference.square() : difference.abs();
        return TensorData.ToArray(perPixel.flatten(1).mean([1]));
    }
}
