using Microsoft.ML;
using Microsoft.ML.Data;
using MLDefense.Classifiers;
using MLDefense.Data;

namespace MLDefense.Attacks;

/// <summary>
/// Configures <see cref="AttackTransformer"/>: there is nothing to learn, so Fit checks the schema and binds the attack to
/// the classifier. Made by <c>ml.Transforms.Attacks.Fgsm(...)</c>, <c>.Pgd(...)</c>... or <c>.Attack(classifier, attack)</c>.
/// </summary>
public sealed class AttackEstimator : IEstimator<AttackTransformer>
{
    private readonly IDifferentiableClassifier classifier;
    private readonly IAdversarialAttack attack;
    private readonly string imageColumnName, labelColumnName, outputColumnName;
    private readonly int attackBatchSize;
    private readonly CancellationToken cancellationToken;

    internal AttackEstimator(IDifferentiableClassifier classifier, IAdversarialAttack attack, string imageColumnName, string labelColumnName,
        string outputColumnName, int attackBatchSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(attack);
        ArgumentException.ThrowIfNullOrWhiteSpace(imageColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputColumnName);
        AttackInputs.AtLeastOne(attackBatchSize, nameof(attackBatchSize), attack.Name);
        (this.classifier, this.attack, this.imageColumnName, this.labelColumnName, this.outputColumnName, this.attackBatchSize, this.cancellationToken) =
            (classifier, attack, imageColumnName, labelColumnName, outputColumnName, attackBatchSize, cancellationToken);
    }

    /// <summary>A transformer attacking the classifier; the data is only checked, nothing is trained.</summary>
    /// <exception cref="ArgumentException">The image or label column is missing or does not fit the classifier (the message names it).</exception>
    public AttackTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = Create();
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <summary>The input schema shape plus the adversarial image column (a Single vector; its shape is checked at Fit).</summary>
    /// <exception cref="ArgumentException">The image or label column is missing or of the wrong kind (the message names it).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ImageColumns.Check(inputSchema, imageColumnName, $"the image {attack.Name} perturbs");
        var label = inputSchema.Where(c => c.Name == labelColumnName).ToArray();
        if (label.Length == 0 || label[0].Kind != SchemaShape.Column.VectorKind.Scalar || !(label[0].IsKey || label[0].ItemType == NumberDataViewType.Int32))
            throw new ArgumentException($"{attack.Name} transform: label column '{labelColumnName}' must be a key (MapValueToKey) or Int32 class indices; " +
                (label.Length == 0 ? $"it was not found. The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}." : $"found {label[0].Kind} of {label[0].ItemType}."));
        return MLNet.SchemaShapes.Append(inputSchema, [MLNet.SchemaShapes.Of(outputColumnName, new VectorDataViewType(NumberDataViewType.Single, 1))]);
    }

    private AttackTransformer Create() =>
        new(classifier, attack, imageColumnName, labelColumnName, outputColumnName, attackBatchSize, cancellationToken);
}

/// <summary>
/// Adds an adversarial version of an image column, made by an <see cref="IAdversarialAttack"/> against a differentiable
/// classifier, batch by batch on the classifier's device (in chunks of at most <see cref="AttackBatchSize"/> rows).
/// </summary>
/// <remarks>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="ImageColumnName"/> (input)</term><description>Single vector [C, H, W] of the classifier's <see cref="IDifferentiableClassifier.InputShape"/>, values in [0, 1]</description></item>
/// <item><term><see cref="LabelColumnName"/> (input)</term><description>a key of K classes, or Int32 0..K−1: the true class (untargeted attacks) or the target class (targeted ones)</description></item>
/// <item><term><see cref="OutputColumnName"/></term><description>the input's type: the adversarial images, in [0, 1]</description></item>
/// </list>
/// <para>Transform is lazy: the attack runs when the output column is read, each time it is read (attacks with random
/// starts give different results per read unless libtorch is reseeded). Reading other columns costs nothing.</para>
/// <para>Not savable: the transformer holds a live classifier (and often belongs to an evaluation, not a deployed model),
/// so a pipeline that contains it cannot be written with <c>ml.Model.Save</c>. Rebuild it from the loaded classifier instead.
/// It does not own the classifier: dispose the classifier yourself when done.</para>
/// </remarks>
public sealed class AttackTransformer : BatchedTransformer
{
    private readonly IDifferentiableClassifier classifier;
    private readonly CancellationToken cancellationToken;

    internal AttackTransformer(IDifferentiableClassifier classifier, IAdversarialAttack attack, string imageColumnName, string labelColumnName,
        string outputColumnName, int attackBatchSize, CancellationToken cancellationToken)
    {
        this.classifier = classifier;
        this.cancellationToken = cancellationToken;
        Attack = attack;
        ImageColumnName = imageColumnName;
        LabelColumnName = labelColumnName;
        OutputColumnName = outputColumnName;
        AttackBatchSize = attackBatchSize;
    }

    /// <summary>The attack.</summary>
    public IAdversarialAttack Attack { get; }
    /// <summary>The clean image column read.</summary>
    public string ImageColumnName { get; }
    /// <summary>The label column read (true classes, or targets for a targeted attack).</summary>
    public string LabelColumnName { get; }
    /// <summary>The adversarial image column added.</summary>
    public string OutputColumnName { get; }
    /// <summary>The most rows attacked at once.</summary>
    public int AttackBatchSize { get; }

    /// <summary>The attack on consecutive images (row-major pixels) with their labels (int64 [N], any device), <see cref="AttackBatchSize"/> at a time.</summary>
    private float[] Perturb(float[] pixels, Tensor allLabels, int rows)
    {
        var shape = classifier.InputShape;
        int size = shape.Size;
        var output = new float[(long)rows * size];
        if (rows == 0) return output;

        for (int start = 0; start < rows; start += AttackBatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = torch.NewDisposeScope();
            int count = Math.Min(AttackBatchSize, rows - start);
            var images = TensorData.FromSpan(pixels.AsSpan(start * size, count * size), [count, shape.Channels, shape.Height, shape.Width], classifier.Device);
            var labels = allLabels.narrow(0, start, count).to(classifier.Device);
            // using: an attack from elsewhere may return a tensor outside this scope; disposing twice is harmless.
            using var adversarial = Attack.Generate(classifier, images, labels, cancellationToken);
            adversarial.cpu().contiguous().data<float>().CopyTo(output.AsSpan(start * size, count * size));
        }
        return output;
    }

    // Not saved: it holds a live classifier.

    private protected override void SaveModel(ModelSaveContext context) => throw new NotSupportedException(
        $"{Attack.Name} transform: an attack is an evaluation step holding a live classifier and is not saved into a model; save the pipeline without it.");

    private protected override IRowBatchMapper Mapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageColumns.Check(inputSchema, ImageColumnName, classifier.InputShape, $"the image {Attack.Name} perturbs", "the shape the classifier takes");
        var kind = LabelColumns.Check(inputSchema, LabelColumnName, $"the classes {Attack.Name} attacks");
        return new BatchMapper(this, kind);
    }

    private sealed class BatchMapper(AttackTransformer owner, Data.LabelKind labelKind) : IRowBatchMapper
    {
        public IReadOnlyList<string> InputColumns => [owner.ImageColumnName, owner.LabelColumnName];
        public IReadOnlyList<DataViewSchema.DetachedColumn> OutputColumns { get; } =
            [new(owner.OutputColumnName, new VectorDataViewType(NumberDataViewType.Single,
                owner.classifier.InputShape.Channels, owner.classifier.InputShape.Height, owner.classifier.InputShape.Width))];
        public int BatchSize => owner.AttackBatchSize;

        public IReadOnlyList<Array> MapBatch(RowBatch batch)
        {
            var classes = LabelColumns.Classes(batch, owner.LabelColumnName, labelKind);
            using var labels = torch.tensor(Array.ConvertAll(classes, c => (long)c), [classes.Length]);
            return [owner.Perturb(batch.Get<float>(owner.ImageColumnName), labels, batch.RowCount)];
        }
    }
}
