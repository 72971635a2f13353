using MLDefense.Classifiers;

namespace MLDefense.Training;

/// <summary>How NAMID's MI estimation networks are trained (Zhou et al., Sec. 3.2.2).</summary>
public enum NamidEstimatorObjective
{
    /// <summary>
    /// Eq. 5 (the paper's method): E_n maximises E_n(h(X′)) − E_n(h(X̃′)) and E_a maximises E_a(h(X̃′)) − E_a(h(X′)), on the
    /// samples Eq. 6 selects.
    /// </summary>
    NaturalAdversarialContrast,

    /// <summary>
    /// Eq. 4 ("MIM" in Fig. 4 and 7): plain MI maximisation, E_n of E_n(h(X′)) and E_a of E_a(h(X̃′)), on the same
    /// selected samples (as the paper does for its comparison).
    /// </summary>
    Maximisation,
}

/// <summary>
/// The form of the λ term of L_mi (Zhou et al., Eq. 8), which asks the adversarial MI of each selected adversarial example
/// to fall below its natural MI. Measured at CPU scale (README, "Robust training"): with λ = 0.1 the printed form makes
/// every NAMID variant collapse to a single class on the tests' synthetic task and on Fashion-MNIST; the bounded one
/// learns the synthetic task, but on Fashion-MNIST (quick preset, 3 seeds) NAMID with it stayed 37.5 points of clean
/// accuracy below Standard AT on average (one seed of three collapsed to one class), while λ = 0 trained (one seed).
/// </summary>
public enum NamidLambdaTerm
{
    /// <summary>
    /// The paper's Eq. 8 as printed: λ·(1/m)·Σ_i [E_a(h(x̃′_i)) − E_n(h(x̃′_i))], a raw difference of two DV estimates (the
    /// authors' final code comments it out). It is linear in the estimates, so its gradient never fades: measured, it
    /// pushed every sample's logits the same way whatever their labels, 3.5–35× harder than the cross-entropy (at the last
    /// layer's bias), until the classifier predicted one class.
    /// </summary>
    AsPrinted,

    /// <summary>
    /// A bounded departure from Eq. 8: λ·(1/m)·Σ_i σ(E_a(h(x̃′_i)) − E_n(h(x̃′_i))), with σ the logistic function — a soft
    /// count of the selected samples whose adversarial MI still exceeds their natural MI. Each sample adds at most λ, its
    /// gradient is at most a quarter of the printed term's and fades once the sample's adversarial MI is well below (or
    /// hopelessly above) its natural MI, so the classifier cannot keep lowering the loss by moving its logits against the
    /// frozen estimators. The default, because of the two forms it is the one that trains here (README); it does not remove
    /// the problem on Fashion-MNIST, where NAMID with it reached 26.9% clean accuracy (mean of 3 seeds, one collapsed to
    /// one class) against Standard AT's 64.4%.
    /// </summary>
    Sigmoid,
}

/// <summary>
/// Options of <see cref="NamidEstimator"/>: everything of <see cref="AdversarialTrainingOptions"/> (whose
/// <see cref="AdversarialTrainingOptions.Method"/> is NAMID's L_adv: standard AT gives NAMID, TRADES NAMID_T, MART NAMID_M,
/// Table 1) plus the MI term of Eq. 8–9 and the MI estimators of Sec. 3.2.2. Defaults are the paper's (α = 5, λ = 0.1),
/// except the form of the λ term (<see cref="LambdaTerm"/>, bounded: a documented departure), and, for the estimators,
/// which the paper leaves to its code, the authors' code's (DV mode, hidden size 2048, Adam 10⁻², 25 epochs, batch 400).
/// </summary>
public sealed class NamidOptions : AdversarialTrainingOptions
{
    /// <summary>α, the weight of L_mi in L_all = L_adv + α·L_mi (Eq. 9). Default 5. Must be ≥ 0.</summary>
    public double Alpha { get; set; } = 5.0;

    /// <summary>
    /// λ, the weight of the term that asks E_a(h(x̃′)) to fall below E_n(h(x̃′)) in L_mi (Eq. 8). Default 0.1 (the paper's).
    /// Must be ≥ 0 (0 is Fig. 5's "λ = 0"). Its form is <see cref="LambdaTerm"/>: with the printed one, λ = 0.1 collapsed
    /// every NAMID variant to a single class at CPU scale (README).
    /// </summary>
    public double Lambda { get; set; } = 0.1;

    /// <summary>
    /// The form of the λ term. Default <see cref="NamidLambdaTerm.Sigmoid"/>, a documented departure from the printed
    /// Eq. 8 (<see cref="NamidLambdaTerm.AsPrinted"/>, which collapsed every NAMID variant to a single class at CPU scale;
    /// README, "Robust training"). Ignored when <see cref="Lambda"/> is 0.
    /// </summary>
    public NamidLambdaTerm LambdaTerm { get; set; } = NamidLambdaTerm.Sigmoid;

    /// <summary>Whether L_mi has its natural-MI terms (E_n). Default true; false is Fig. 5's "removing the natural MI".</summary>
    public bool UseNaturalMi { get; set; } = true;

    /// <summary>Whether L_mi has its adversarial-MI terms (E_a). Default true; false is Fig. 5's "removing the adversarial MI".</summary>
    public bool UseAdversarialMi { get; set; } = true;

    /// <summary>
    /// The pre-trained target model h_θ0 the MI estimators are trained on (Eq. 5–6); the paper uses a standard-AT model.
    /// It must take the training images' shape and have K classes. Null (default): Fit first trains one by standard
    /// adversarial training with these same settings (and <see cref="TargetModelEpochs"/>). Ignored when
    /// <see cref="MiEstimators"/> is set. Not disposed by Fit.
    /// </summary>
    public ImageClassifierTransformer? TargetModel { get; set; }

    /// <summary>Epochs of the standard-AT target model Fit trains when <see cref="TargetModel"/> is null; null = <see cref="AdversarialTrainingOptions.Epochs"/>.</summary>
    public int? TargetModelEpochs { get; set; }

    /// <summary>
    /// Already trained MI estimators (<see cref="NamidEstimator.FitMiEstimators"/>), e.g. to train NAMID, NAMID_T and
    /// NAMID_M on the same ones, as the paper does. They must have been trained for the training images' shape and K
    /// classes. Default null (Fit trains them). Not disposed by Fit.
    /// </summary>
    public NamidMiEstimators? MiEstimators { get; set; }

    /// <summary>The estimators' objective. Default <see cref="NamidEstimatorObjective.NaturalAdversarialContrast"/> (Eq. 5).</summary>
    public NamidEstimatorObjective EstimatorObjective { get; set; } = NamidEstimatorObjective.NaturalAdversarialContrast;

    /// <summary>U, the units of the estimators' local and global projections. Default 2048 (the authors' <c>--va-hsize</c>). Must be ≥ 1.</summary>
    public int EstimatorHiddenSize { get; set; } = 2048;

    /// <summary>Epochs of estimator training over the selected samples. Default 25 (the authors' code). Must be ≥ 1.</summary>
    public int EstimatorEpochs { get; set; } = 25;

    /// <summary>Selected samples per estimator step. Default 400 (the authors' code). Must be ≥ 2 (DV needs negatives).</summary>
    public int EstimatorBatchSize { get; set; } = 400;

    /// <summary>Adam's learning rate for the estimators. Default 10⁻² (the authors' code). Must be positive.</summary>
    public double EstimatorLearningRate { get; set; } = 1e-2;

    private protected override string OptionsName => nameof(NamidOptions);

    internal override void Check()
    {
        base.Check();
        var rules = new Defenses.OptionRules(OptionsName);
        rules.Require(Alpha >= 0 && double.IsFinite(Alpha), nameof(Alpha), Alpha, "must be ≥ 0");
        rules.Require(Lambda >= 0 && double.IsFinite(Lambda), nameof(Lambda), Lambda, "must be ≥ 0");
        rules.Require(Enum.IsDefined(LambdaTerm), nameof(LambdaTerm), LambdaTerm, "must be AsPrinted or Sigmoid");
        rules.Require(UseNaturalMi || UseAdversarialMi, nameof(UseAdversarialMi), UseAdversarialMi, "cannot be false together with UseNaturalMi (L_mi would be empty; use AdversarialTraining)");
        rules.Require(TargetModelEpochs is null or >= 1, nameof(TargetModelEpochs), TargetModelEpochs, "must be at least 1");
        rules.Require(Enum.IsDefined(EstimatorObjective), nameof(EstimatorObjective), EstimatorObjective, "must be NaturalAdversarialContrast or Maximisation");
        rules.Require(EstimatorHiddenSize >= 1, nameof(EstimatorHiddenSize), EstimatorHiddenSize, "must be at least 1");
        rules.Require(EstimatorEpochs >= 1, nameof(EstimatorEpochs), EstimatorEpochs, "must be at least 1");
        rules.Require(EstimatorBatchSize >= 2, nameof(EstimatorBatchSize), EstimatorBatchSize, "must be at least 2 (a DV estimate needs negatives from the batch)");
        rules.Require(EstimatorLearningRate > 0 && double.IsFinite(EstimatorLearningRate), nameof(EstimatorLearningRate), EstimatorLearningRate, "must be positive");
    }

    /// <summary>A copy for the standard-AT target model: the same settings, its own epochs, no checkpoint or progress.</summary>
    internal AdversarialTrainingOptions TargetModelOptions() => new()
    {
        LabelColumnName = LabelColumnName, ImageColumnName = ImageColumnName, Architecture = Architecture, CustomModuleName = CustomModuleName,
        ClassCount = ClassCount, Method = AdversarialTrainingMethod.StandardAT, Epsilon = Epsilon, StepSize = StepSize, Steps = Steps,
        RandomStart = RandomStart, Beta = Beta, Epochs = TargetModelEpochs ?? Epochs, BatchSize = BatchSize, LearningRate = LearningRate,
        Momentum = Momentum, WeightDecay = WeightDecay, LearningRateMilestones = LearningRateMilestones, LearningRateGamma = LearningRateGamma,
        Seed = Seed, CancellationToken = CancellationToken,
    };
}
