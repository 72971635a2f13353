using MLDefense.Legacy;

namespace MLDefense.Samples;

/// <summary>
/// One input row of the defended model: a 28×28 grey Fashion-MNIST image (the shape classifier A takes) and its label.
/// The label is read only by training (MIAED's simple network learns from it); leave it 0 when predicting.
/// </summary>
public class ModelInput
{
    /// <summary>The image: 784 floats, row by row, values in [0, 1] (0 = black background, 1 = white).</summary>
    [ColumnName("Image"), ImageType(1, 28, 28)]
    public float[] Image { get; set; } = [];

    /// <summary>The class index 0–9 (see <see cref="DefendedClassifier.ClassNames"/>).</summary>
    [ColumnName("Label")]
    public int Label { get; set; }
}
