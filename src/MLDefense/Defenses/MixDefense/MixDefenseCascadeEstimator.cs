using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLDefense.Defenses;

/// <summary>
/// The MixDefense cascade (Yang et al., MixDefense, Fig. 1 and Sec. 2.3): the LP-Defense layer (SAEC, Sec. 3) rejects inputs with large
/// perturbations before the classifier; what it lets through is classified, and the SP-Defense layer (ContraNet, Sec. 4) judges the
/// prediction. This component is the cascade's last step: from the two layers' flags it adds one decision, <c>MixDefenseFlag</c> =
/// first flag ∨ second flag, and <c>MixDefenseReason</c>, the layer that rejected the input (the first layer decides first, so an input
/// both flag is the first layer's) or empty when neither did.
/// </summary>
/// <remarks>
/// <para>The cascade is plain ML.NET composition, each layer a component of its own:</para>
/// <code>
/// ml.Transforms.Defenses.Saec()                                                      // SaecScore, SaecFlag
///   .Append(ml.MulticlassClassification.Trainers.ImageClassifier(...))              // Score, PredictedLabel
///   .Append(ml.Transforms.Defenses.ContraNet(...))                                   // ContraNetScore, ContraNetFlag
///   .Append(ml.Transforms.Defenses.MixDefense())                                     // MixDefenseFlag, MixDefenseReason
/// </code>
/// <para>Any post-classifier detector can stand in the second layer: give its flag column and reason, e.g.
/// <c>MixDefense(smallPerturbationFlagColumnName: "FeatureSqueezingFlag", smallPerturbationReason: "fs")</c>. Fit learns nothing (the
/// layers are fitted and calibrated by their own estimators); it checks the columns.</para>
/// <para>In the paper the rejected input never reaches the classifier; in an ML.NET pipeline every row flows through every component
/// and the rejection is the flag, which the application acts on — the decision is the same, the classifier's work on rejected rows is
/// the price of a row-to-row pipeline.</para>
/// <para>Input and output columns:</para>
/// <list type="table">
/// <listheader><term>Column</term><description>Type and role</description></listheader>
/// <item><term><see cref="MixDefenseCascadeOptions.LargePerturbationFlagColumnName"/> (input)</term><description>Boolean: the first layer's flag (SaecFlag)</description></item>
/// <item><term><see cref="MixDefenseCascadeOptions.SmallPerturbationFlagColumnName"/> (input)</term><description>Boolean: the second layer's flag (ContraNetFlag)</description></item>
/// <item><term><see cref="MixDefenseCascadeOptions.FlagColumnName"/> (output)</term><description>Boolean: either layer flagged</description></item>
/// <item><term><see cref="MixDefenseCascadeOptions.ReasonColumnName"/> (output)</term><description>Text: the rejecting layer's reason, or empty</description></item>
/// </list>
/// <para>Bad input: a missing flag column or one that is not Boolean fails in GetOutputSchema and Fit, naming the column.</para>
/// </remarks>
public sealed class MixDefenseCascadeEstimator : DefenseEstimator<MixDefenseCascadeOptions, MixDefenseCascadeTransformer>
{
    /// <summary>Creates the estimator (the catalog's <c>ml.Transforms.Defenses.MixDefense</c> methods call this).</summary>
    /// <exception cref="ArgumentException">A column name or reason is empty, or two added columns share a name.</exception>
    public MixDefenseCascadeEstimator(IHostEnvironment environment, MixDefenseCascadeOptions options) : base(environment, "MixDefense", options, CheckOptions)
    {
    }

    /// <summary>The columns the transformer adds; both flag columns must be Boolean scalars.</summary>
    public override SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        foreach (var (name, role) in FlagColumns(Options))
        {
            var found = inputSchema.Where(c => c.Name == name).ToArray();
            if (found.Length == 0)
                throw new ArgumentException($"Column '{name}' ({role}) was not found; expected a Boolean flag. The schema has: {string.Join(", ", inputSchema.Select(c => c.Name))}.");
            if (found[0].Kind != SchemaShape.Column.VectorKind.Scalar || found[0].ItemType != BooleanDataViewType.Instance)
                throw new ArgumentException($"Column '{name}' ({role}): expected a Boolean flag, found {found[0].Kind} of {found[0].ItemType}.");
        }
        return MLNet.SchemaShapes.Append(inputSchema, MixDefenseCascadeTransformer.AddedColumns(Options).Select(c => MLNet.SchemaShapes.Of(c.Name, c.Type)));
    }

    /// <summary>Checks the flag columns and returns the combiner (nothing is learned).</summary>
    public override MixDefenseCascadeTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var transformer = new MixDefenseCascadeTransformer(Options);
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    internal static IEnumerable<(string Name, string Role)> FlagColumns(MixDefenseCascadeOptions o) =>
    [
        (o.LargePerturbationFlagColumnName, "the first layer's flag, e.g. SAEC's"),
        (o.SmallPerturbationFlagColumnName, "the second layer's flag, e.g. ContraNet's"),
    ];

    internal static void CheckOptions(MixDefenseCascadeOptions o)
    {
        OptionRules.RequireColumnNames("MixDefense", [o.LargePerturbationFlagColumnName, o.SmallPerturbationFlagColumnName], ("flag", o.FlagColumnName), ("reason", o.ReasonColumnName));
        if (o.LargePerturbationFlagColumnName == o.SmallPerturbationFlagColumnName)
            throw new ArgumentException($"MixDefense's two layers need different flag columns; both are '{o.LargePerturbationFlagColumnName}'.", "options");
        if (string.IsNullOrWhiteSpace(o.LargePerturbationReason) || string.IsNullOrWhiteSpace(o.SmallPerturbationReason) || o.LargePerturbationReason == o.SmallPerturbationReason)
            throw new ArgumentException($"MixDefense's reasons must be non-empty and distinct; got '{o.LargePerturbationReason}' and '{o.SmallPerturbationReason}'.", "options");
    }
}
