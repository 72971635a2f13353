using MLDefense.Data;
using MLDefense.Evaluation;

namespace MLDefense.Defenses;

/// <summary>
/// How the defenses' transformers batch inside Transform (DESIGN.md: a transformer batches, never maps one row at a
/// time): a batch's rows go to the device in chunks of <see cref="ChunkSize"/> images, and a detector's flag is its
/// score above the calibrated threshold.
/// </summary>
internal static class DefenseInference
{
    /// <summary>The images a defense hands to its networks (or its scoring) at once.</summary>
    internal const int ChunkSize = 256;

    /// <summary>Rows 0..<paramref name="rows"/>−1 in consecutive chunks of at most <paramref name="chunkSize"/>.</summary>
    internal static IEnumerable<(int Start, int Count)> Chunks(int rows, int chunkSize = ChunkSize)
    {
        for (int start = 0; start < rows; start += chunkSize)
            yield return (start, Math.Min(chunkSize, rows - start));
    }

    /// <summary>Images <paramref name="start"/>..<paramref name="start"/> + <paramref name="count"/> − 1 of flat pixels as a [count, C, H, W] tensor on <paramref name="device"/>.</summary>
    internal static Tensor Images(float[] pixels, ImageShape shape, int start, int count, Device device) =>
        TensorData.FromSpan(pixels.AsSpan(start * shape.Size, count * shape.Size), [count, shape.Channels, shape.Height, shape.Width], device);

    /// <summary>The detector's flags: score &gt; threshold (<see cref="ThresholdCalibration.IsFlagged"/>).</summary>
    internal static bool[] Flags(float[] scores, float threshold) => Array.ConvertAll(scores, s => ThresholdCalibration.IsFlagged(s, threshold));
}
