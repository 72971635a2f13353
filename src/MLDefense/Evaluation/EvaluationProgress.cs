namespace MLDefense.Evaluation;

/// <summary>Where a long evaluation protocol stands; reported after every batch, on the calling thread.</summary>
/// <param name="Protocol">The protocol (<c>MIAED</c>, <c>MixDefense</c>, <c>AE-GAN</c>, <c>CMAG</c>).</param>
/// <param name="Stage">What it is doing (e.g. <c>ε = 0.3</c>, <c>FGSM λ = 0.1</c>, <c>clean scores</c>).</param>
/// <param name="ImagesDone">Images processed so far, over all stages.</param>
/// <param name="ImagesTotal">Images to process in all.</param>
public readonly record struct EvaluationProgress(string Protocol, string Stage, long ImagesDone, long ImagesTotal)
{
    /// <summary>The share done, in [0, 1].</summary>
    public double Fraction => ImagesTotal == 0 ? 1 : Math.Clamp(ImagesDone / (double)ImagesTotal, 0, 1);
}
