using Microsoft.ML.Data;

namespace MLDefense.Samples;

/// <summary>
/// One input row of the defended model: a 28×28 grey Fashion-MNIST image (the shape classifier A takes) and its label.
/// The label is read only by training (MIAED's simple network learns from it); leave it 0 when predicting.
/// </summary>
public class ModelInput
{
    /// <summary>The image: 784 floats, row by row, values in [0, 1] (0 = black background, 1 = white), typed [1, 28, 28].</summary>
    [ColumnName("Image"), VectorType(1, 28, 28)]
    public float[] Image { get; set; } = [];

    /// <summary>
    /// The label as ML.NET stores a class: a key, 1 + the class index 0–9 (see <see cref="DefendedClassifier.ClassNames"/>);
    /// 0 means "no label". <see cref="LabelIndex"/> gives the class index.
    /// </summary>
    [ColumnName("Label"), KeyType(10)]
    public uint Label { get; set; }

    /// <summary>The class index 0–9 of <see cref="Label"/>, or −1 when there is no label.</summary>
    [NoColumn]
    public int LabelIndex => (int)Label - 1;
}
