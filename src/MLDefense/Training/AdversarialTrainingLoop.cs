using System.Diagnostics;
using System.Text.Json.Nodes;
using MLDefense.Classifiers;
using MLDefense.Data;
using MLDefense.Defenses;

namespace MLDefense.Training;

/// <summary>
/// The one adversarial-training loop PGD-AT, TRADES, MART and NAMID share (Zhou et al., Alg. 1): per mini-batch, craft
/// x̃ against the current network (<see cref="AdversarialLosses.Craft"/>), forward x̃ (and x when the loss reads it)
/// in training mode, add the method's loss and any extra term (NAMID's α·L_mi, Eq. 9) and take one SGD step. The
/// learning rate follows the milestones; each epoch ends with a checkpoint when one is asked for.
/// </summary>
internal static class AdversarialTrainingLoop
{
    /// <summary>An extra loss term for a batch: clean and adversarial images, labels, and the logits of both (training mode).</summary>
    internal delegate Tensor ExtraLoss(Tensor images, Tensor adversarial, Tensor labels, Tensor cleanLogits, Tensor adversarialLogits);

    /// <summary>What a NAMID-like caller adds to the loop: its networks (checkpointed with the classifier), work done once
    /// before the first epoch of a fresh run (skipped when resuming), and the extra loss.</summary>
    internal sealed record Extension(IReadOnlyList<(string Name, Module Module)> Modules, Action<Tensor, Tensor>? Prepare, ExtraLoss? Loss, JsonObject Settings);

    public static IReadOnlyList<ClassifierTrainingProgress> Run(AdversarialTrainingOptions o, FitEnvironment fitting, string logSource, string description,
        Module<Tensor, Tensor> network, ImageShape shape, float[] pixels, int[] labels, int seed, Device device, Extension? extension)
    {
        var token = o.CancellationToken;
        long rows = labels.Length;
        if (rows < 2)
            throw new ArgumentException($"Column '{o.ImageColumnName}': adversarial training needs at least 2 training rows, found {rows}.");
        int batchSize = (int)Math.Min(o.BatchSize, rows);
        // A trailing batch of one image is skipped (NAMID's DV estimates need a second image of the batch).
        int batchesPerEpoch = (int)(rows / batchSize) + (rows % batchSize >= 2 ? 1 : 0);
        long rowsPerEpoch = Math.Min(rows, (long)batchesPerEpoch * batchSize);

        using var images = torch.tensor(pixels, [rows, shape.Channels, shape.Height, shape.Width], device: device);
        using var classes = torch.tensor(Array.ConvertAll(labels, l => (long)l), [rows], device: device);
        using var optimizer = torch.optim.SGD(network.parameters(), o.LearningRate, o.Momentum, weight_decay: o.WeightDecay);

        var settings = new JsonObject
        {
            ["method"] = o.Method.ToString(), ["epsilon"] = o.Epsilon, ["step_size"] = o.Step, ["steps"] = o.Steps, ["random_start"] = o.RandomStart,
            ["beta"] = o.Beta, ["epochs"] = o.Epochs, ["batch_size"] = o.BatchSize, ["learning_rate"] = o.LearningRate, ["momentum"] = o.Momentum,
            ["weight_decay"] = o.WeightDecay, ["milestones"] = string.Join(",", o.LearningRateMilestones), ["gamma"] = o.LearningRateGamma,
            ["network"] = description,
        };
        if (extension is not null) foreach (var (key, value) in extension.Settings) settings[key] = value?.DeepClone();
        var checkpoint = TrainingCheckpoint.Create(o.CheckpointPath, o.Name, shape, pixels, (int)rows, seed, device, settings);
        var modules = new List<(string Name, Module Module)> { ("classifier", network) };
        if (extension is not null) modules.AddRange(extension.Modules);
        var optimizers = new List<(string Name, OptimizerHelper Optimizer)> { ("sgd", optimizer) };
        int resumed = checkpoint?.Restore(modules, optimizers, o.Epochs) ?? 0;
        if (resumed > 0) fitting.Log(logSource, $"resumed from the checkpoint {checkpoint!.FilePath} after epoch {resumed} of {o.Epochs}");
        else extension?.Prepare?.Invoke(images, classes);

        bool needsClean = AdversarialLosses.NeedsCleanLogits(o.Method) || extension?.Loss is not null;
        int reportEvery = Math.Max(1, batchesPerEpoch / 20);
        var history = new List<ClassifierTrainingProgress>();
        var clock = Stopwatch.StartNew();
        fitting.Log(logSource, $"{description} on {device}: {rows} images, {o.Epochs} epochs, batch {batchSize}, PGD-{o.Steps} ε {o.Epsilon:G4} step {o.Step:G4}, " +
            $"SGD lr {o.LearningRate} momentum {o.Momentum} weight decay {o.WeightDecay}, milestones [{string.Join(", ", o.LearningRateMilestones)}]");

        for (int epoch = resumed + 1; epoch <= o.Epochs; epoch++)
        {
            double learningRate = o.LearningRateAt(epoch);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = learningRate;
            network.train();
            using var order = torch.randperm(rows, device: device);
            using var lossSum = torch.zeros([], ScalarType.Float32, device);
            using var correctSum = torch.zeros([], ScalarType.Int64, device);
            for (int batch = 0; batch < batchesPerEpoch; batch++)
            {
                token.ThrowIfCancellationRequested();
                long start = (long)batch * batchSize;
                long count = Math.Min(batchSize, rows - start);
                using (torch.NewDisposeScope())
                {
                    var indices = order.narrow(0, start, count);
                    var x = images.index_select(0, indices);
                    var y = classes.index_select(0, indices);
                    var adversarial = AdversarialLosses.Craft(network, x, y, o.Method, o.Epsilon, o.Step, o.Steps, o.RandomStart, token);
                    network.train();
                    var adversarialLogits = network.forward(adversarial);
                    var cleanLogits = needsClean ? network.forward(x) : null;
                    var loss = AdversarialLosses.Loss(o.Method, cleanLogits, adversarialLogits, y, o.Beta);
                    if (extension?.Loss is { } extra) loss = loss.add(extra(x, adversarial, y, cleanLogits!, adversarialLogits));
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    using (torch.no_grad())
                    {
                        lossSum.add_(loss.detach(), alpha: count);
                        correctSum.add_(adversarialLogits.argmax(1).eq(y).sum());
                    }
                }
                int done = batch + 1;
                bool epochEnd = done == batchesPerEpoch;
                if (epochEnd) checkpoint?.Write(epoch, modules, optimizers);
                if (epochEnd || (o.Progress is not null && done % reportEvery == 0))
                {
                    long rowsDone = Math.Min((long)done * batchSize, rowsPerEpoch);
                    // The estimate rests on this run's steps only: a resumed run did not time the epochs before it.
                    long stepsDone = (long)(epoch - 1 - resumed) * batchesPerEpoch + done;
                    long stepsTotal = (long)(o.Epochs - resumed) * batchesPerEpoch;
                    var elapsed = clock.Elapsed;
                    var remaining = TimeSpan.FromTicks((long)(elapsed.Ticks / (double)stepsDone * (stepsTotal - stepsDone)));
                    var report = new ClassifierTrainingProgress(epoch, o.Epochs, done, batchesPerEpoch, lossSum.item<float>() / rowsDone,
                        correctSum.item<long>() / (double)rowsDone, null, learningRate, elapsed, remaining, epochEnd);
                    o.Progress?.Report(report);
                    if (epochEnd)
                    {
                        history.Add(report);
                        fitting.Log(logSource, report.ToString());
                    }
                }
            }
        }
        network.eval();
        checkpoint?.Delete();
        return history;
    }
}
