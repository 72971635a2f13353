using MLDefense.Data;

namespace MLDefense.Classifiers;

/// <summary>
/// A classifier seen as a differentiable function of its input images — what attacks (FGSM, PGD, CW...) and
/// adversarial training need: they take gradients of a loss on the logits with respect to the images.
/// </summary>
/// <remarks>
/// Implementations keep the model in evaluation mode (no dropout, fixed batch-norm statistics), so that repeated
/// calls on the same images give the same logits and gradients describe the deployed model. Inputs must be on
/// <see cref="Device"/>; results are on the same device, and the caller owns (disposes) them.
/// </remarks>
public interface IDifferentiableClassifier
{
    /// <summary>The device the model's weights live on; inputs must be there too.</summary>
    Device Device { get; }

    /// <summary>The shape of one input image (channels × height × width, values in [0, 1]).</summary>
    ImageShape InputShape { get; }

    /// <summary>The number of classes K (the length of a row of logits).</summary>
    int ClassCount { get; }

    /// <summary>
    /// Logits [N, K] for images [N, C, H, W] (float32, on <see cref="Device"/>), differentiable with respect to the
    /// images (grad mode permitting): <c>torch.autograd.grad([loss(Logits(x))], [x])[0]</c> gives the input gradient.
    /// </summary>
    Tensor Logits(Tensor images);

    /// <summary>The shape [C, H, W] of <see cref="FeatureMap"/>'s rows, or null when the model does not expose one.</summary>
    IReadOnlyList<int>? FeatureMapShape { get; }

    /// <summary>
    /// The last convolutional feature map [N, C', H', W'] for images [N, C, H, W], differentiable like
    /// <see cref="Logits"/> (model-aware defenses read it). Throws <see cref="NotSupportedException"/> when
    /// <see cref="FeatureMapShape"/> is null.
    /// </summary>
    Tensor FeatureMap(Tensor images);
}
