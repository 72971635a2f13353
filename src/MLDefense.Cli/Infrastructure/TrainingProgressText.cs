using MLDefense.Benchmarks;

namespace MLDefense.Cli.Infrastructure;

/// <summary>Shows a <see cref="ClassifierTrainingStatus"/> on a <see cref="ProgressDisplay"/>: one bar per stage.</summary>
public static class TrainingProgressText
{
    /// <summary>Reports <paramref name="status"/> under steps named <c>{prefix}load</c>, <c>{prefix}train</c>, <c>{prefix}evaluate</c>.</summary>
    public static void Show(ProgressDisplay display, string prefix, ClassifierTrainingStatus status)
    {
        switch (status.Stage)
        {
            case ClassifierTrainingStage.Loading:
                display.Report(prefix + "load", status.Fraction >= 1 ? "data read" : "reading data", status.Fraction);
                break;
            case ClassifierTrainingStage.Training when status.Training is { } t:
                var text = $"epoch {t.Epoch}/{t.Epochs} · batch {t.Batch}/{t.BatchesPerEpoch} · loss {t.Loss:F4} · train acc {t.TrainAccuracy * 100:F2}%"
                         + (t.ValidationAccuracy is { } v ? $" · validation acc {v * 100:F2}%" : "");
                display.Report(prefix + "train", text, status.Fraction, t.EstimatedRemaining, milestone: t.EpochCompleted);
                break;
            case ClassifierTrainingStage.Training:
                display.Report(prefix + "train", "starting", 0);
                break;
            case ClassifierTrainingStage.Evaluating:
                display.Report(prefix + "evaluate", "test accuracy", status.Fraction);
                break;
        }
    }
}
