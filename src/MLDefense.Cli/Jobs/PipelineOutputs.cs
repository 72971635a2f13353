using MLDefense.Data;

namespace MLDefense.Jobs;

/// <summary>The defended pipeline's outputs on one set of images, read in row order, with classifier A's undefended predictions.</summary>
internal sealed class PipelineOutputs
{
    private PipelineOutputs(int[] labels, int[] undefended, int[] defended, float[][] scores, bool[][] flags)
    {
        Labels = labels;
        Undefended = undefended;
        Defended = defended;
        Scores = scores;
        Flags = flags;
    }

    public int Rows => Labels.Length;
    public int[] Labels { get; }
    public int[] Undefended { get; }
    public int[] Defended { get; }

    /// <summary>Per detector of <see cref="DefendedPipelineJob.Columns.Detectors"/>, its score of every row.</summary>
    public float[][] Scores { get; }

    /// <summary>Per detector, its flag of every row.</summary>
    public bool[][] Flags { get; }

    public static PipelineOutputs Read(Microsoft.ML.IDataView output, int[] undefended)
    {
        var detectors = DefendedPipelineJob.Columns.Detectors;
        string[] columns = ["Label", "PredictedLabel", .. detectors.Select(d => d.Score), .. detectors.Select(d => d.Flag)];
        var labels = new List<int>();
        var predicted = new List<int>();
        var scores = detectors.Select(_ => new List<float>()).ToArray();
        var flags = detectors.Select(_ => new List<bool>()).ToArray();
        foreach (var batch in DataViewBatches.Read(output, columns, 512))
        {
            // Keys 1..K (ML.NET's convention, 0 = missing) → classes 0..K−1.
            labels.AddRange(LabelColumns.Classes(batch, "Label", LabelKind.Key));
            predicted.AddRange(LabelColumns.Classes(batch, "PredictedLabel", LabelKind.Key));
            for (int d = 0; d < detectors.Length; d++)
            {
                scores[d].AddRange(batch.Get<float>(detectors[d].Score));
                flags[d].AddRange(batch.Get<bool>(detectors[d].Flag));
            }
        }
        if (labels.Count != undefended.Length)
            throw new InvalidOperationException($"The pipeline returned {labels.Count} rows for {undefended.Length} images.");
        return new PipelineOutputs(labels.ToArray(), undefended, predicted.ToArray(), scores.Select(s => s.ToArray()).ToArray(),
                                   flags.Select(f => f.ToArray()).ToArray());
    }

    public double FlagRate(int detector) => Flags[detector].Count(f => f) / (double)Rows;

    public bool[] AnyFlag() => Enumerable.Range(0, Rows).Select(i => Flags.Any(f => f[i])).ToArray();

    /// <summary>Rows on which <paramref name="other"/> has the same prediction, scores and flags (bit for bit).</summary>
    public int AgreeingRows(PipelineOutputs other)
    {
        int agreeing = 0;
        for (int i = 0; i < Math.Min(Rows, other.Rows); i++)
        {
            bool same = Defended[i] == other.Defended[i];
            for (int d = 0; d < Scores.Length; d++)
                same &= Scores[d][i].Equals(other.Scores[d][i]) && Flags[d][i] == other.Flags[d][i];
            if (same) agreeing++;
        }
        return agreeing;
    }
}
