using MLDefense.Data;

namespace MLDefense.Legacy.Tests;

/// <summary>At which point an estimator must reject a bad input.</summary>
internal enum BadInputStage
{
    /// <summary>A schema problem (missing column, wrong type, wrong image shape): GetOutputSchema and Fit must both throw.</summary>
    Schema,
    /// <summary>A value problem (NaN, out of range, empty data): the schema passes, Fit must throw before training.</summary>
    Fit,
}

/// <summary>An input an estimator must reject, and a part of the message the rejection must contain (e.g. the column name).</summary>
internal sealed record BadInput(string Description, IDataView Data, string ExpectedMessagePart, BadInputStage Stage = BadInputStage.Schema);

/// <summary>What a workout produced, for further assertions; disposes both models.</summary>
internal sealed class WorkoutResult<TTransformer>(TTransformer model, ITransformer loaded, InMemoryDataView output, DataViewSchema loadedInputSchema) : IDisposable
    where TTransformer : class, ITransformer
{
    /// <summary>The fitted transformer.</summary>
    public TTransformer Model { get; } = model;
    /// <summary>The transformer loaded back from the saved zip.</summary>
    public ITransformer Loaded { get; } = loaded;
    /// <summary>The fitted model's output on the test data, in memory.</summary>
    public InMemoryDataView Output { get; } = output;
    /// <summary>The input schema the zip recorded.</summary>
    public DataViewSchema LoadedInputSchema { get; } = loadedInputSchema;

    public void Dispose()
    {
        (Model as IDisposable)?.Dispose();
        (Loaded as IDisposable)?.Dispose();
    }
}

/// <summary>
/// The workout every estimator gets (DESIGN.md, "Conventions"): fit; transform; the schema the estimator and the
/// transformer promise equals the schema of the real output; save → load gives identical outputs (bit-identical on the
/// CPU); each bad input is rejected with a message that names the problem. Other test projects can link this file
/// (<c>&lt;Compile Include="..\MLDefense.Legacy.Tests\Workout.cs" /&gt;</c>); it is internal so that linking it twice clashes nowhere.
/// </summary>
internal static class Workout
{
    /// <summary>Runs the workout; fails the calling test with a message that says which step broke.</summary>
    /// <param name="ml">The context (its device decides whether outputs must be bit-identical).</param>
    /// <param name="estimator">The estimator under test.</param>
    /// <param name="trainData">Data to fit on.</param>
    /// <param name="testData">Data to transform and compare (default: the training data).</param>
    /// <param name="badInputs">At least one input the estimator must reject.</param>
    /// <param name="tolerance">Largest allowed absolute difference after save → load; default 0 (bitwise) on the CPU, 1e-5 on a GPU.</param>
    public static WorkoutResult<TTransformer> Run<TTransformer>(MLContext ml, IEstimator<TTransformer> estimator, IDataView trainData,
        IDataView? testData, IReadOnlyList<BadInput> badInputs, double? tolerance = null) where TTransformer : class, ITransformer
    {
        string name = estimator.GetType().Name;
        Assert.IsTrue(badInputs.Count > 0, $"Workout of {name}: give at least one bad input; rejecting bad input is part of the workout.");
        var input = testData ?? trainData;

        var promised = estimator.GetOutputSchema(trainData.Schema);
        var model = estimator.Fit(trainData);
        try
        {
            Assert.IsTrue(model.GetOutputSchema(trainData.Schema).SameAs(promised),
                $"Workout of {name}: the transformer's output schema ({model.GetOutputSchema(trainData.Schema)}) differs from the estimator's ({promised}).");

            var transformed = model.Transform(input);
            var transformerSchema = model.GetOutputSchema(input.Schema);
            Assert.IsTrue(transformed.Schema.SameAs(transformerSchema),
                $"Workout of {name}: GetOutputSchema says ({transformerSchema}) but Transform produced ({transformed.Schema}).");
            Assert.IsTrue(estimator.GetOutputSchema(input.Schema).SameAs(transformerSchema),
                $"Workout of {name}: the estimator and the transformer disagree on the output schema of the test data.");
            // Reading every column proves the batches really hold what the schema promises (DataBatch checks lengths and types).
            var output = DataViews.Materialize(transformed);
            Assert.AreEqual(DataViews.CountRows(input), output.GetRowCount(), $"Workout of {name}: Transform changed the number of rows.");

            var (loaded, loadedSchema) = SaveAndLoad(ml, model, input.Schema);
            try
            {
                Assert.IsTrue(loadedSchema.SameAs(input.Schema), $"Workout of {name}: the zip recorded input schema ({loadedSchema}), not ({input.Schema}).");
                var reloadedOutput = DataViews.Materialize(loaded.Transform(input));
                AssertSameData(output, reloadedOutput, tolerance ?? (ml.Device.type == DeviceType.CPU ? 0 : 1e-5), $"Workout of {name}, after save → load");
            }
            catch
            {
                (loaded as IDisposable)?.Dispose();
                throw;
            }

            foreach (var bad in badInputs) AssertRejected(estimator, bad, name);
            return new WorkoutResult<TTransformer>(model, loaded, output, loadedSchema);
        }
        catch
        {
            (model as IDisposable)?.Dispose();
            throw;
        }
    }

    private static (ITransformer Loaded, DataViewSchema Schema) SaveAndLoad(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mldefense-workout-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, schema, path);
            var loaded = ml.Model.Load(path, out var loadedSchema);
            return (loaded, loadedSchema);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertRejected<TTransformer>(IEstimator<TTransformer> estimator, BadInput bad, string name) where TTransformer : ITransformer
    {
        if (bad.Stage == BadInputStage.Schema)
            ExpectRejection(() => estimator.GetOutputSchema(bad.Data.Schema), bad, $"Workout of {name}: GetOutputSchema with {bad.Description}");
        ExpectRejection(() => (estimator.Fit(bad.Data) as IDisposable)?.Dispose(), bad, $"Workout of {name}: Fit with {bad.Description}");
    }

    private static void ExpectRejection(Action action, BadInput bad, string what)
    {
        try
        {
            action();
        }
        catch (Exception ex) when (ex is not AssertFailedException)
        {
            // These come from a missing check, not from a check that fired.
            Assert.IsFalse(ex is NullReferenceException or IndexOutOfRangeException or InvalidCastException,
                $"{what} failed by accident ({ex.GetType().Name}: {ex.Message}) instead of a check naming the problem.");
            StringAssert.Contains(ex.Message, bad.ExpectedMessagePart, $"{what}: the message should name the problem.");
            return;
        }
        Assert.Fail($"{what} was accepted; it must be rejected.");
    }

    /// <summary>Asserts two views hold the same columns and values (floats within <paramref name="tolerance"/>; 0 means bitwise).</summary>
    public static void AssertSameData(IDataView expected, IDataView actual, double tolerance, string what)
    {
        Assert.IsTrue(expected.Schema.SameAs(actual.Schema), $"{what}: schemas differ ({expected.Schema}) vs ({actual.Schema}).");
        var left = DataViews.Materialize(expected);
        var right = DataViews.Materialize(actual);
        foreach (var column in left.Schema)
        {
            var a = left.GetColumnArray(column.Name);
            var b = right.GetColumnArray(column.Name);
            Assert.AreEqual(a.Length, b.Length, $"{what}: column '{column.Name}' has a different number of values.");
            for (int i = 0; i < a.Length; i++)
            {
                object? x = a.GetValue(i), y = b.GetValue(i);
                bool same = (x, y) switch
                {
                    (float p, float q) => tolerance == 0 ? BitConverter.SingleToInt32Bits(p) == BitConverter.SingleToInt32Bits(q) : Math.Abs(p - q) <= tolerance || p.Equals(q),
                    (double p, double q) => tolerance == 0 ? BitConverter.DoubleToInt64Bits(p) == BitConverter.DoubleToInt64Bits(q) : Math.Abs(p - q) <= tolerance || p.Equals(q),
                    _ => Equals(x, y),
                };
                if (!same) Assert.Fail($"{what}: column '{column.Name}' differs at value {i}: {x} vs {y}.");
            }
        }
    }
}
