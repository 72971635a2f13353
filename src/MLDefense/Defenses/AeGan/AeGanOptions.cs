using System.Text.Json.Serialization;

namespace MLDefense.Defenses;

/// <summary>When AE-GAN+sr runs its encoder-assisted latent search (Sec. 3.4, Alg. 2).</summary>
public enum AeGanSearchPolicy
{
    /// <summary>Search only for the images the reconstruction-error detector flags; clean ones get G(F(x)) (the default, Alg. 2).</summary>
    WhenFlagged,

    /// <summary>Search for every image (slower; useful when the detector's threshold is not trusted).</summary>
    Always,

    /// <summary>Never search: every image gets the plain reconstruction G(F(x)) (MagNet-style purification).</summary>
    Never,
}

/// <summary>The distance between an image and its reconstruction that AE-GAN+sr uses as its detection score.</summary>
public enum AeGanDistance
{
    /// <summary>Mean absolute difference per value, (1/D)·‖G(F(x)) − x‖₁ (the default: App. F finds L1 the better detector).</summary>
    L1,

    /// <summary>Mean squared difference per value, (1/D)·‖G(F(x)) − x‖₂².</summary>
    Mse,
}

/// <summary>
/// Options of the AE-GAN+sr purifier ("Defense against adversarial examples by encoder-assisted search in the latent
/// coding space", Sec. 3.3–3.4, Alg. 1–2, Tables 4 and 6, App. F). See <see cref="AeGanEstimator"/> for the equations.
/// </summary>
public sealed record AeGanOptions
{
    /// <summary>The image column read: float vector [C, H, W] with an image shape, values in [0, 1]. Default <c>Image</c>.</summary>
    public string ImageColumnName { get; init; } = "Image";

    /// <summary>The purified image column added (same shape and image annotation as the input). Default <c>Purified</c>.</summary>
    public string OutputColumnName { get; init; } = "Purified";

    /// <summary>The float score column added: the reconstruction error (higher = more adversarial). Default <c>AeGanScore</c>.</summary>
    public string ScoreColumnName { get; init; } = "AeGanScore";

    /// <summary>The boolean column added: true when the score is above the calibrated threshold. Default <c>AeGanFlag</c>.</summary>
    public string FlagColumnName { get; init; } = "AeGanFlag";

    /// <summary>
    /// The dimension k of the latent code z ∈ [−1, 1]^k. Default 128 (Table 4; Table 8 also uses 20).
    /// <para>A smaller k narrows G's range, so the latent search has less room to rebuild a perturbation. Measured on MNIST
    /// (purifier 10 epochs at w = 32 on 8 000 images, Adam 1e-3, batch 50; classifier A trained 10 epochs, 0.9917; 200 test
    /// images, ε = 0.3): k = 20 gives AE-GAN+sr FGSM 0.805, PGD 0.875, CW-L2 0.965, clean 0.980 (G(F(x)) alone:
    /// 0.765 / 0.835 / 0.955 / 0.975), where k = 128 gives 0.750 / 0.810 / 0.985 / 0.990 (G(F(x)): 0.745 / 0.800 / 0.985 /
    /// 0.990). On all 60 000 training images k = 20 keeps the gain (AE-GAN+sr 0.79 / 0.85 / 0.98 / 0.995, G(F(x))
    /// 0.75 / 0.79), where k = 128's search fell below G(F(x)) (0.59 / 0.565 against 0.75 / 0.815). The default stays the
    /// paper's.</para>
    /// </summary>
    public int LatentDimension { get; init; } = 128;

    /// <summary>
    /// The channel width of the first convolution; the encoder and discriminator use w, 2w, 4w and the decoder 4w, 2w, w.
    /// Default 64, giving Table 6's 64-128-256. Smaller widths are for tests and quick experiments.
    /// </summary>
    public int BaseChannels { get; init; } = 64;

    /// <summary>Training epochs. Default 60 (Table 4).</summary>
    public int Epochs { get; init; } = 60;

    /// <summary>Minibatch size. Default 100 (Table 4).</summary>
    public int BatchSize { get; init; } = 100;

    /// <summary>Adam's learning rate for the three networks. Default 2e-4 (Table 4).</summary>
    public double LearningRate { get; init; } = 2e-4;

    /// <summary>
    /// Adam's β₁. Default 0.5: Table 4 gives only the learning rate; 0.5 (with β₂ = 0.999) is the DCGAN setting that
    /// GAN training at 2e-4 customarily uses, because the default 0.9 lets the min-max game oscillate.
    /// </summary>
    public double AdamBeta1 { get; init; } = 0.5;

    /// <summary>
    /// λ, the weight of the reconstruction term ‖G(F(x + η)) − x‖² against the GAN term in Eq. 5. Default 1, the
    /// unweighted sum Eq. 5 writes. The squared norm is summed over the values of each image (not averaged), so the
    /// reconstruction dominates the GAN term, which shapes G's latent space rather than competing with the autoencoder.
    /// <para>Weighing a per-value mean instead (λ = 1/784 on 28×28 images, what a mean-reduced MSE would give) lets the GAN
    /// term shape G more and the search gain more, at the cost of the plain reconstruction. Measured on MNIST as under
    /// <see cref="LatentDimension"/>: AE-GAN+sr FGSM 0.790, PGD 0.840, CW-L2 0.945, clean 0.965 (G(F(x)) alone:
    /// 0.695 / 0.805 / 0.920 / 0.955), against λ = 1's 0.750 / 0.810 / 0.985 / 0.990: the clean accuracy falls outside
    /// Table 1's 1.5 points, so λ stays 1. With k = 20 the steps between move the same way without passing FGSM ≈ 0.80:
    /// λ = 0.1 gives 0.805 / 0.875 / 0.960 / 0.985 (G(F(x)) 0.780 / 0.815 / 0.945 / 0.980), λ = 0.01 gives 0.800 / 0.860 /
    /// 0.915 / 0.955 (G(F(x)) 0.640 / 0.705 / 0.910 / 0.950), against λ = 1's 0.805 / 0.875 / 0.965 / 0.980.</para>
    /// </summary>
    public double ReconstructionWeight { get; init; } = 1;

    /// <summary>
    /// The bound b of the noise regularisation ("+r"): each batch draws σ ~ U[0, b] and trains F on x + η with
    /// η ~ N(0, σ²) per value (not clipped), so the encoder learns to map perturbed images near the clean code. Default 0.3,
    /// our choice: the largest L∞ budget the paper evaluates on MNIST. Set 0 to train without "+r".
    /// <para>A wider bound does not make the encoder more robust to FGSM's sign noise. Measured on MNIST as under
    /// <see cref="LatentDimension"/> with k = 20: b = 0.6 gives AE-GAN+sr FGSM 0.805, PGD 0.885, CW-L2 0.960, clean 0.985
    /// (G(F(x)) alone: 0.790 / 0.800 / 0.950 / 0.985) and b = 1 gives 0.790 / 0.870 / 0.960 / 0.975, against b = 0.3's
    /// 0.805 / 0.875 / 0.965 / 0.980.</para>
    /// </summary>
    public double NoiseBound { get; init; } = 0.3;

    /// <summary>The share of clean training images the calibrated threshold may flag. Default 0.05.</summary>
    public double TargetFalsePositiveRate { get; init; } = 0.05;

    /// <summary>The detection distance (the score). Default <see cref="AeGanDistance.L1"/> (App. F).</summary>
    public AeGanDistance Distance { get; init; } = AeGanDistance.L1;

    /// <summary>When the latent search runs. Default <see cref="AeGanSearchPolicy.WhenFlagged"/> (Alg. 2).</summary>
    public AeGanSearchPolicy SearchPolicy { get; init; } = AeGanSearchPolicy.WhenFlagged;

    /// <summary>L, the gradient steps of the latent search. Default 15 (the paper's AE-GAN+sr setting).</summary>
    public int SearchSteps { get; init; } = 15;

    /// <summary>
    /// η, the initial step size of the latent search on ‖G(z) − x‖² (summed over the image's values); it halves every
    /// <see cref="SearchHalvingInterval"/> steps (Alg. 2). Default 0.1, chosen by measurement because the paper's value was
    /// not available to us. On MNIST, with a purifier trained 2 epochs at w = 16 on 8 000 images (200 test images, L = 15),
    /// the mean ‖G(z) − x‖² per image fell from 11.8 to 7.7 / 6.4 / 5.3 / 4.6 / 4.2 on clean digits, from 39.6 to
    /// 33.2 / 31.2 / 28.8 / 28.0 / 28.9 on FGSM ε = 0.3 AEs and from 31.4 to 26.1 / 24.4 / 22.3 / 21.4 / 21.6 on PGD
    /// ε = 0.3 AEs for η = 0.01 / 0.02 / 0.05 / 0.1 / 0.2; with one trained 3 epochs on 10 000 images, η = 0.3 overshot
    /// (the distance rose over the first five steps: clean 9.3 → 11.2, FGSM 43.5 → 46.2) while η = 0.1 fell steadily
    /// (to 2.65 and 33.9; η = 0.01: 4.8 and 36.5). So 0.01 moves z but leaves much of the reachable reduction undone in
    /// 15 steps; 0.1 is the largest step tried that stayed monotone, and it reached the lowest distances or nearly. On the
    /// summed distance 0.1 is 0.1·D ≈ 78 on the per-value mean for 28×28 images, the scale of Defense-GAN's step (10 with
    /// momentum 0.7, about 33 effective). The gradient's scale depends on G and on D, so the benchmark reports the distance
    /// before and after the search (<c>search_trace</c>) to check η on other data.
    /// <para>A lower distance is not a better purification. With a purifier trained longer (10 epochs at w = 32 on 8 000
    /// images; classifier A 1 epoch; 200 MNIST test images, every image searched, L = 15), η = 0.1 is no longer monotone
    /// (FGSM ε = 0.3: 44.8 → 57.2 after three steps → 41.4) and η = 0.01 or 0.03 ends lower (35.7, 36.0), yet accuracy
    /// after purification is FGSM 0.270 / 0.320 / 0.495 and PGD 0.345 / 0.405 / 0.495 for η = 0.01 / 0.03 / 0.1 (η = 0.001:
    /// 0.330 / 0.390; plain G(F(x)): 0.275 / 0.350; clean 0.975 / 0.985 / 0.975): descending closer to an adversarial x
    /// also rebuilds more of its perturbation, while the large first steps leave F(x)'s neighbourhood. So 0.1 stays the
    /// default, chosen by accuracy, not by the distance.</para>
    /// <para>Those measurements used plain descent. The search now rejects a step that raises an image's distance and halves
    /// that image's η (<see cref="AeGanPurification.SearchLatent"/>), because with a purifier trained on all 60 000 images
    /// (10 epochs, w = 32) η = 0.1 overshot from the first step (clean 3.1 → 77.0). With the safeguard (200 MNIST test
    /// images, flagged images searched): that purifier's distance falls (clean 3.1 → 1.6, FGSM 37.7 → 31.4) and AE-GAN+sr
    /// scores FGSM 0.205, PGD 0.140, CW-L2 0.970, clean 0.975 (plain descent: 0.220 / 0.170 / 0.835 / 0.955; G(F(x)):
    /// 0.350 / 0.390 / 0.965 / 0.975); the 8 000-image one scores 0.340 / 0.415 / 0.955 / 0.960 (plain descent:
    /// 0.480 / 0.490, clean 0.980). So the safeguard keeps clean and CW-L2 images intact, while on FGSM and PGD ε = 0.3
    /// descending toward x rebuilds the attack at this training scale; the paper's claim rests on a G whose range holds
    /// only clean digits (60 epochs at w = 64), which we could not train on a CPU.</para>
    /// <para>All the figures above used classifier A trained 1 epoch on 10 000 images (the benchmark's quick preset). With
    /// A trained its full 10 epochs (0.9917), the 60 000-image purifier's AE-GAN+sr scores FGSM 0.590 and PGD 0.565 at
    /// η = 0.1, and 0.570 and 0.585 at η = 0.02 (G(F(x)) alone: 0.750 / 0.815; CW-L2 0.98 and clean 0.99 at both): the
    /// step size does not decide whether the search rebuilds the attack, the breadth of G's range does (see
    /// <see cref="LatentDimension"/>).</para>
    /// </summary>
    public double SearchStepSize { get; init; } = 0.1;

    /// <summary>Steps between halvings of the search step size. Default 5 (Alg. 2).</summary>
    public int SearchHalvingInterval { get; init; } = 5;

    /// <summary>
    /// A file in which Fit keeps its training state at the end of every epoch — F, G and D, both optimisers, the random
    /// generators (the CPU's and, on a GPU, the device's) — and from which it resumes when the file exists: a Fit stopped by
    /// cancellation, a crash or a power cut goes on after its last completed epoch and ends with the same model, bit for
    /// bit, as an uninterrupted Fit. Fit refuses a checkpoint of another run (other training settings, seed, device or
    /// data), naming what differs, and deletes the file once it has fitted the model (unless <see cref="KeepCheckpoint"/>). Not saved with the model. Default
    /// null: no checkpoint (training 60 epochs on all of MNIST takes about 8 hours on two CPU cores, see <c>bench engine</c>).
    /// </summary>
    [JsonIgnore]
    public string? CheckpointPath { get; init; }

    /// <summary>
    /// Whether Fit leaves its checkpoint (<see cref="CheckpointPath"/>) in place once it has fitted the model, instead of
    /// deleting it. Kept, a later Fit with more <see cref="Epochs"/> and otherwise the same settings, seed and data
    /// continues the training where this one ended, and ends where one uninterrupted Fit of as many epochs would: the
    /// epochs do not shape the steps (a constant Adam learning rate), so they are not among the settings a checkpoint must
    /// match. This is how accuracy against epochs is measured (<c>mldefense bench aegan --curve</c>). Not saved. Default false.
    /// </summary>
    [JsonIgnore]
    public bool KeepCheckpoint { get; init; }

    /// <summary>The seed of initialisation, shuffling, the prior and the noise; null draws one from the context.</summary>
    public int? Seed { get; init; }

    /// <summary>Receives training progress during and at the end of each epoch. Not saved. Default null.</summary>
    [JsonIgnore]
    public IProgress<AeGanTrainingProgress>? Progress { get; init; }

    /// <summary>Stops Fit: it throws <see cref="OperationCanceledException"/> and frees everything it built. Not saved.</summary>
    [JsonIgnore]
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>A progress report of AE-GAN training (Alg. 1).</summary>
/// <param name="Epoch">The current epoch, 1-based.</param>
/// <param name="Epochs">The number of epochs.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="BatchesPerEpoch">Batches per epoch.</param>
/// <param name="DiscriminatorLoss">Mean BCE of D on real and generated images over this epoch's batches so far.</param>
/// <param name="GeneratorLoss">Mean non-saturating GAN loss of G over this epoch's batches so far.</param>
/// <param name="ReconstructionLoss">Mean ‖G(F(x + η)) − x‖² per image over this epoch's batches so far.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="EstimatedRemaining">The estimated time to the end of training.</param>
/// <param name="EpochCompleted">True for the report at the end of an epoch.</param>
public sealed record AeGanTrainingProgress(
    int Epoch, int Epochs, int Batch, int BatchesPerEpoch, double DiscriminatorLoss, double GeneratorLoss, double ReconstructionLoss,
    TimeSpan Elapsed, TimeSpan EstimatedRemaining, bool EpochCompleted)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"epoch {Epoch}/{Epochs} batch {Batch}/{BatchesPerEpoch}: D loss {DiscriminatorLoss:F4}, G loss {GeneratorLoss:F4}, " +
        $"reconstruction {ReconstructionLoss:F3}, {Elapsed.TotalSeconds:F1} s elapsed, ETA {EstimatedRemaining.TotalSeconds:F0} s";
}

/// <summary>What Fit recorded about the trained purifier: the input shape, the calibrated threshold and how it was set.</summary>
public sealed record AeGanCalibration : IFittedImageDefense
{
    /// <summary>Channels of the images trained on.</summary>
    public int Channels { get; init; }
    /// <summary>Height of the images trained on.</summary>
    public int Height { get; init; }
    /// <summary>Width of the images trained on.</summary>
    public int Width { get; init; }
    /// <summary>The reconstruction-error threshold: flag when score &gt; threshold.</summary>
    public float Threshold { get; init; }
    /// <summary>The number of clean training images the threshold was calibrated on.</summary>
    public int TrainingImageCount { get; init; }
    /// <summary>The share of clean training images flagged at the threshold.</summary>
    public double TrainingFalsePositiveRate { get; init; }
    /// <summary>The median clean training score.</summary>
    public float CleanMedianScore { get; init; }
}
