namespace MLDefense.Defenses;

public sealed partial class DefensesCatalog
{
    /// <summary>
    /// The MixDefense cascade's combiner (Fig. 1): from the first layer's flag (before the classifier, SAEC's) and the second layer's
    /// (after it, ContraNet's or another post-classifier detector's) adds <c>MixDefenseFlag</c> (either flagged) and <c>MixDefenseReason</c>
    /// (which layer rejected the input, or empty). See <see cref="MixDefenseCascadeEstimator"/>.
    /// </summary>
    /// <param name="largePerturbationFlagColumnName">The first layer's Boolean flag.</param>
    /// <param name="smallPerturbationFlagColumnName">The second layer's Boolean flag.</param>
    /// <param name="smallPerturbationReason">The reason written when only the second layer flags.</param>
    /// <param name="flagColumnName">The flag column added.</param>
    /// <param name="reasonColumnName">The reason column added.</param>
    public MixDefenseCascadeEstimator MixDefense(string largePerturbationFlagColumnName = "SaecFlag", string smallPerturbationFlagColumnName = "ContraNetFlag",
        string smallPerturbationReason = "contranet", string flagColumnName = "MixDefenseFlag", string reasonColumnName = "MixDefenseReason") =>
        MixDefense(new MixDefenseCascadeOptions
        {
            LargePerturbationFlagColumnName = largePerturbationFlagColumnName,
            SmallPerturbationFlagColumnName = smallPerturbationFlagColumnName,
            SmallPerturbationReason = smallPerturbationReason,
            FlagColumnName = flagColumnName,
            ReasonColumnName = reasonColumnName,
        });

    /// <summary>The MixDefense cascade's combiner with every setting of <see cref="MixDefenseCascadeOptions"/>.</summary>
    public MixDefenseCascadeEstimator MixDefense(MixDefenseCascadeOptions options) => new(Environment, options);
}
