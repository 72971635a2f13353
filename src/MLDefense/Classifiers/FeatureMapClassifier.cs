using MLDefense.Data;

namespace MLDefense.Classifiers;

/// <summary>
/// A classifier split in two: <see cref="Features"/> (the convolutional trunk, ending with the last convolution's
/// activation) and <see cref="Head"/> (pooling, flattening, fully connected layers, logits). The split is what lets
/// the image classifier emit the last convolutional feature map, which model-aware defenses (CMAG) read. The
/// built-in architectures are built this way; a custom module that is one gets feature maps too.
/// </summary>
public sealed class FeatureMapClassifier : Module<Tensor, Tensor>
{
    /// <summary>Wraps a trunk and a head; state-dict keys are <c>features.N.*</c> and <c>head.N.*</c>.</summary>
    public FeatureMapClassifier(Sequential features, Sequential head) : base(nameof(FeatureMapClassifier))
    {
        Features = this.Register("features", features);
        Head = this.Register("head", head);
        TensorCensus.Record(this);   // see TensorCensus: TorchSharp counts each parameter's source tensor for ever
    }

    /// <summary>Images [N, C, H, W] → the last convolutional feature map [N, C', H', W'].</summary>
    public Sequential Features { get; }

    /// <summary>Feature map → logits [N, K].</summary>
    public Sequential Head { get; }

    /// <summary>Images → logits.</summary>
    public override Tensor forward(Tensor input)
    {
        using var featureMap = Features.forward(input);
        return Head.forward(featureMap);
    }
}
