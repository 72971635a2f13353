using MLDefense.Data;

namespace MLDefense.Classifiers;

/// <summary>
/// The built-in image classifiers, taken from the papers whose defenses MLDefense implements. Each expects one input
/// shape and fails clearly on any other. Padding and strides the papers' tables leave out are taken from the
/// authors' code where it is public (and said so below); weights use libtorch's default initialisation.
/// </summary>
public enum ClassifierArchitecture
{
    /// <summary>
    /// MIAED's MNIST target model C1 (Gao et al., "Detecting Adversarial Examples on Deep Neural Networks with Mutual
    /// Information Neural Estimation", Table 1), for 1×28×28 images (MNIST, Fashion-MNIST):
    /// Conv(32, 3×3) + ReLU, MaxPool 2×2, Conv(64, 3×3) + ReLU, MaxPool 2×2, FC 200 + ReLU, FC K.
    /// Convolutions are unpadded ("valid", the Keras default the table implies): 28 → 26 → 13 → 11 → 5, so the FC
    /// layer reads 64×5×5 = 1600 values. Feature map: the second convolution's ReLU output, 64×11×11.
    /// Defaults: Adam, learning rate 1e-3, batch 128, 10 epochs (MIAED reports 99.3% test accuracy on MNIST).
    /// </summary>
    MnistC1,

    /// <summary>
    /// A CIFAR-10 target model for 3×32×32 images. MIAED's Table 1 names a C2 for CIFAR-10, but its official code
    /// could not be consulted here, so this is the standard Carlini–Wagner CIFAR-10 network ("Towards Evaluating the
    /// Robustness of Neural Networks", 2017), the usual target model of that literature:
    /// Conv(64, 3×3) + ReLU, Conv(64, 3×3) + ReLU, MaxPool 2×2, Conv(128, 3×3) + ReLU, Conv(128, 3×3) + ReLU,
    /// MaxPool 2×2, FC 256 + ReLU, Dropout 0.5, FC 256 + ReLU, FC K — unpadded: 32 → 30 → 28 → 14 → 12 → 10 → 5,
    /// so the FC layer reads 128×5×5 = 3200 values. Feature map: the fourth convolution's ReLU output, 128×10×10.
    /// Defaults: Adam, learning rate 1e-3, batch 128, 50 epochs. This departs from Carlini–Wagner's training (SGD with
    /// Nesterov momentum 0.9, learning rate 0.01), which this network, with PyTorch's default initialisation, does not
    /// survive on the 4 000-image CIFAR-10 subset the project has: measured, the loss stayed at chance (2.3030, 2.3021,
    /// 2.3018 after epochs 1–3, training accuracy 10–11%) — PyTorch's initialisation shrinks the signal about sixfold in
    /// variance per ReLU layer (Keras's Glorot initialisation, which the original code had, about twofold), so the
    /// logits start near zero and momentum SGD at 0.01 needs far more than the subset's 32 steps per epoch to leave
    /// that plateau. Adam rescales each parameter's step and does leave it within the first epoch. The paper's recipe
    /// remains available through the options (Optimizer = Sgd, LearningRate = 0.01, Momentum = 0.9, Nesterov = true).
    /// </summary>
    CifarC2,

    /// <summary>
    /// Defense-GAN's classifier A (Samangouei et al., 2018, Table 1 of its appendix; the classifier AE-GAN's Table 5
    /// reuses), for 1×28×28 images: Conv(64, 5×5) + ReLU, Conv(64, 5×5) + ReLU, Dropout 0.25, FC 128 + ReLU,
    /// Dropout 0.5, FC K. Strides and padding follow the official code (kabkabm/defensegan,
    /// utils/network_builder.py, <c>model_a</c>): the first convolution is "same"-padded with stride 1 (28 → 28), the
    /// second unpadded with stride 2 (28 → 12), so the FC layer reads 64×12×12 = 9216 values. Feature map: the
    /// second convolution's ReLU output, 64×12×12. Defaults (the official code): Adam, learning rate 1e-3, batch 128,
    /// 10 epochs. AE-GAN reports 99.0% on MNIST and 91.8% on Fashion-MNIST.
    /// </summary>
    DefenseGanA,

    /// <summary>
    /// Defense-GAN's classifier B, for 1×28×28 images: Dropout 0.2, Conv(64, 8×8, stride 2) + ReLU,
    /// Conv(128, 6×6, stride 2) + ReLU, Conv(128, 5×5) + ReLU, Dropout 0.5, FC K. Padding per the official code
    /// (<c>model_b</c>): the first convolution is "same"-padded (28 → 14; TensorFlow pads 3 on each side here, which a
    /// symmetric padding of 3 reproduces exactly), the others unpadded (14 → 5 → 1), so the FC layer reads 128 values.
    /// Feature map: the third convolution's ReLU output, 128×1×1. Dropout rates are drop probabilities, as the paper
    /// states them (the official TensorFlow 1 code passes them as keep probabilities). Defaults as for A.
    /// </summary>
    DefenseGanB,

    /// <summary>
    /// Defense-GAN's classifier C, for 1×28×28 images: Conv(128, 3×3) + ReLU, Conv(64, ·) + ReLU, Dropout 0.25,
    /// FC 128 + ReLU, Dropout 0.5, FC K. The paper's table gives the second convolution as 3×3; the official code
    /// (<c>model_c</c>), which produced the published numbers, uses 5×5 with stride 2 and no padding, after a
    /// "same"-padded first convolution — this follows the code: 28 → 28 → 12, so the FC layer reads 64×12×12 = 9216
    /// values. Feature map: the second convolution's ReLU output, 64×12×12. Defaults as for A.
    /// </summary>
    DefenseGanC,
}

/// <summary>The optimiser used to train the image classifier.</summary>
public enum ClassifierOptimizer
{
    /// <summary>Adam (β = 0.9, 0.999).</summary>
    Adam,
    /// <summary>Stochastic gradient descent, optionally with (Nesterov) momentum.</summary>
    Sgd,
}

/// <summary>How the learning rate changes over the epochs.</summary>
public enum LearningRateSchedule
{
    /// <summary>Constant.</summary>
    None,
    /// <summary>Multiplied by a factor (gamma) every few epochs (PyTorch's StepLR).</summary>
    Step,
    /// <summary>Cosine annealing from the initial rate to 0 over all epochs (PyTorch's CosineAnnealingLR).</summary>
    Cosine,
}

/// <summary>The training settings a built-in architecture uses unless the options override them.</summary>
/// <param name="Epochs">Passes over the training data.</param>
/// <param name="BatchSize">Images per optimisation step.</param>
/// <param name="LearningRate">The initial learning rate.</param>
/// <param name="Optimizer">The optimiser.</param>
/// <param name="Momentum">SGD momentum (ignored by Adam).</param>
/// <param name="Nesterov">Whether SGD uses Nesterov momentum.</param>
public sealed record ClassifierTrainingDefaults(int Epochs, int BatchSize, double LearningRate, ClassifierOptimizer Optimizer, double Momentum, bool Nesterov);

/// <summary>Builds the built-in architectures and knows their input shapes and training defaults.</summary>
public static class ClassifierArchitectures
{
    /// <summary>The one input shape an architecture accepts.</summary>
    public static ImageShape InputShape(ClassifierArchitecture architecture) => architecture switch
    {
        ClassifierArchitecture.CifarC2 => new ImageShape(3, 32, 32),
        ClassifierArchitecture.MnistC1 or ClassifierArchitecture.DefenseGanA or ClassifierArchitecture.DefenseGanB
            or ClassifierArchitecture.DefenseGanC => new ImageShape(1, 28, 28),
        _ => throw Unknown(architecture),
    };

    /// <summary>
    /// The shape [C', H', W'] of an architecture's last convolutional feature map (what the transformer's feature-map
    /// column and <see cref="IDifferentiableClassifier.FeatureMap"/> hold), known without building the network.
    /// </summary>
    public static IReadOnlyList<int> FeatureMapShape(ClassifierArchitecture architecture) => architecture switch
    {
        ClassifierArchitecture.MnistC1 => [64, 11, 11],
        ClassifierArchitecture.CifarC2 => [128, 10, 10],
        ClassifierArchitecture.DefenseGanA or ClassifierArchitecture.DefenseGanC => [64, 12, 12],
        ClassifierArchitecture.DefenseGanB => [128, 1, 1],
        _ => throw Unknown(architecture),
    };

    /// <summary>The papers' training settings for an architecture (see each <see cref="ClassifierArchitecture"/> member).</summary>
    public static ClassifierTrainingDefaults TrainingDefaults(ClassifierArchitecture architecture) => architecture switch
    {
        ClassifierArchitecture.MnistC1 => new(Epochs: 10, BatchSize: 128, LearningRate: 1e-3, ClassifierOptimizer.Adam, Momentum: 0, Nesterov: false),
        ClassifierArchitecture.CifarC2 => new(Epochs: 50, BatchSize: 128, LearningRate: 1e-3, ClassifierOptimizer.Adam, Momentum: 0, Nesterov: false),
        ClassifierArchitecture.DefenseGanA or ClassifierArchitecture.DefenseGanB or ClassifierArchitecture.DefenseGanC =>
            new(Epochs: 10, BatchSize: 128, LearningRate: 1e-3, ClassifierOptimizer.Adam, Momentum: 0, Nesterov: false),
        _ => throw Unknown(architecture),
    };

    /// <summary>
    /// Builds an untrained network for <paramref name="classCount"/> classes on the CPU (move it with
    /// <c>Module.to</c>). Throws <see cref="ArgumentException"/> when <paramref name="inputShape"/> is not the
    /// architecture's.
    /// </summary>
    public static FeatureMapClassifier Create(ClassifierArchitecture architecture, ImageShape inputShape, int classCount)
    {
        var expected = InputShape(architecture);
        if (inputShape != expected)
            throw new ArgumentException($"Architecture {architecture} takes {expected} images; found {inputShape}.", nameof(inputShape));
        if (classCount < 2) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "A classifier needs at least 2 classes.");
        int c = inputShape.Channels;
        return architecture switch
        {
            ClassifierArchitecture.MnistC1 => new FeatureMapClassifier(
                Sequential(Conv2d(c, 32, 3), ReLU(), MaxPool2d(2), Conv2d(32, 64, 3), ReLU()),
                Sequential(MaxPool2d(2), Flatten(), Linear(64 * 5 * 5, 200), ReLU(), Linear(200, classCount))),
            ClassifierArchitecture.CifarC2 => new FeatureMapClassifier(
                Sequential(Conv2d(c, 64, 3), ReLU(), Conv2d(64, 64, 3), ReLU(), MaxPool2d(2),
                           Conv2d(64, 128, 3), ReLU(), Conv2d(128, 128, 3), ReLU()),
                Sequential(MaxPool2d(2), Flatten(), Linear(128 * 5 * 5, 256), ReLU(), Dropout(0.5),
                           Linear(256, 256), ReLU(), Linear(256, classCount))),
            ClassifierArchitecture.DefenseGanA => new FeatureMapClassifier(
                Sequential(Conv2d(c, 64, 5, padding: 2), ReLU(), Conv2d(64, 64, 5, stride: 2), ReLU()),
                Sequential(Flatten(), Dropout(0.25), Linear(64 * 12 * 12, 128), ReLU(), Dropout(0.5), Linear(128, classCount))),
            ClassifierArchitecture.DefenseGanB => new FeatureMapClassifier(
                Sequential(Dropout(0.2), Conv2d(c, 64, 8, stride: 2, padding: 3), ReLU(), Conv2d(64, 128, 6, stride: 2), ReLU(),
                           Conv2d(128, 128, 5), ReLU()),
                Sequential(Dropout(0.5), Flatten(), Linear(128, classCount))),
            ClassifierArchitecture.DefenseGanC => new FeatureMapClassifier(
                Sequential(Conv2d(c, 128, 3, padding: 1), ReLU(), Conv2d(128, 64, 5, stride: 2), ReLU()),
                Sequential(Flatten(), Dropout(0.25), Linear(64 * 12 * 12, 128), ReLU(), Dropout(0.5), Linear(128, classCount))),
            _ => throw Unknown(architecture),
        };
    }

    private static ArgumentOutOfRangeException Unknown(ClassifierArchitecture architecture) =>
        new(nameof(architecture), architecture, $"Unknown classifier architecture {architecture}.");
}
