namespace MLDefense.Defenses;

/// <summary>
/// Options of the MixDefense cascade combiner (Yang et al., "MixDefense: A Defense-in-Depth Framework for Adversarial Example Detection
/// Based on Statistical and Semantic Analysis", Fig. 1): which flag columns the two layers wrote and the columns the combiner adds.
/// See <see cref="MixDefenseCascadeEstimator"/>.
/// </summary>
public sealed record MixDefenseCascadeOptions
{
    /// <summary>The first layer's flag (LP-Defense, before the classifier): a Boolean column. Default <c>SaecFlag</c> (<see cref="SaecOptions.FlagColumnName"/>).</summary>
    public string LargePerturbationFlagColumnName { get; init; } = "SaecFlag";

    /// <summary>
    /// The second layer's flag (SP-Defense, after the classifier): a Boolean column. Default <c>ContraNetFlag</c>, ContraNet's; any
    /// post-classifier detector's flag works (e.g. <see cref="FeatureSqueezingOptions.FlagColumnName"/>).
    /// </summary>
    public string SmallPerturbationFlagColumnName { get; init; } = "ContraNetFlag";

    /// <summary>The Boolean column added: either layer flagged the input. Default <c>MixDefenseFlag</c>.</summary>
    public string FlagColumnName { get; init; } = "MixDefenseFlag";

    /// <summary>The text column added: which layer rejected the input (<see cref="LargePerturbationReason"/>, <see cref="SmallPerturbationReason"/>) or empty. Default <c>MixDefenseReason</c>.</summary>
    public string ReasonColumnName { get; init; } = "MixDefenseReason";

    /// <summary>The reason written when the first layer flags (it decides first, whatever the second says). Default <c>saec</c>.</summary>
    public string LargePerturbationReason { get; init; } = "saec";

    /// <summary>The reason written when only the second layer flags. Default <c>contranet</c>.</summary>
    public string SmallPerturbationReason { get; init; } = "contranet";
}
