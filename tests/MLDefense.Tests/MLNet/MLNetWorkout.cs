using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLDefense.Tests.MLNet;

/// <summary>An input an ML.NET estimator must reject, and a part of the message (e.g. the column name).</summary>
/// <param name="Description">What is wrong, for the failure message.</param>
/// <param name="Data">The bad data.</param>
/// <param name="ExpectedMessagePart">A part of the rejection's message.</param>
/// <param name="SchemaProblem">True: GetOutputSchema(SchemaShape) must reject it too; false: only Fit (a value or shape problem).</param>
internal sealed record MLNetBadInput(string Description, IDataView Data, string ExpectedMessagePart, bool SchemaProblem = true);

/// <summary>
/// The workout of an MLDefense component on real ML.NET (DESIGN.md, "Conventions"): fit; transform; the schema the
/// estimator promises (as a <see cref="SchemaShape"/>) and the transformer promises equal the real output's; save with
/// <c>ml.Model.Save</c> → load in this process and in a fresh one (a plain ML.NET app, no registration call) → identical
/// outputs, bit for bit on the CPU; each bad input rejected with a message that names the problem.
/// </summary>
internal static class MLNetWorkout
{
    internal static (TTransformer Model, IDataView Output) Run<TTransformer>(MLContext ml, IEstimator<TTransformer> estimator, IDataView train,
        IDataView test, IReadOnlyList<MLNetBadInput> badInputs) where TTransformer : class, ITransformer
    {
        string name = estimator.GetType().Name;
        Assert.IsTrue(badInputs.Count > 0, $"Workout of {name}: rejecting bad input is part of the workout; give at least one.");

        var promised = estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(train.Schema));
        var model = estimator.Fit(train);
        var output = model.Transform(test);
        AssertSameColumns(output.Schema, model.GetOutputSchema(test.Schema), $"Workout of {name}: Transform's schema vs the transformer's GetOutputSchema");
        var actualShape = MLDefense.MLNet.SchemaShapes.From(output.Schema);
        foreach (var column in promised)
        {
            Assert.IsTrue(actualShape.Any(c => c.Name == column.Name), $"Workout of {name}: the estimator promised column '{column.Name}', which the output lacks.");
            var actual = actualShape.First(c => c.Name == column.Name);
            Assert.AreEqual(column.Kind, actual.Kind, $"Workout of {name}: column '{column.Name}' kind");
            Assert.AreEqual(column.ItemType, actual.ItemType, $"Workout of {name}: column '{column.Name}' item type");
        }
        var expected = ReadAll(output);
        Assert.AreEqual(CountRows(test), expected.Rows, $"Workout of {name}: Transform changed the number of rows.");

        string folder = Directory.CreateTempSubdirectory("mldefense-workout-").FullName;
        try
        {
            string zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(model, train.Schema, zip);

            var loaded = new MLContext(seed: 1).Model.Load(zip, out var loadedSchema);
            AssertSameColumns(train.Schema, loadedSchema, $"Workout of {name}: the input schema the zip recorded");
            AssertSameData(expected, ReadAll(loaded.Transform(test)), $"Workout of {name}, loaded in this process");

            AssertSameInFreshProcess(ml, zip, test, expected, $"Workout of {name}, loaded in a fresh process");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        foreach (var bad in badInputs)
        {
            if (bad.SchemaProblem)
            {
                var schemaError = Assert.ThrowsExactly<ArgumentException>(() => estimator.GetOutputSchema(MLDefense.MLNet.SchemaShapes.From(bad.Data.Schema)),
                    $"Workout of {name}: GetOutputSchema accepted {bad.Description}.");
                StringAssert.Contains(schemaError.Message, bad.ExpectedMessagePart, $"Workout of {name}, {bad.Description} (GetOutputSchema)");
            }
            var fitError = Assert.ThrowsExactly<ArgumentException>(() => estimator.Fit(bad.Data), $"Workout of {name}: Fit accepted {bad.Description}.");
            StringAssert.Contains(fitError.Message, bad.ExpectedMessagePart, $"Workout of {name}, {bad.Description} (Fit)");
        }
        return (model, output);
    }

    /// <summary>
    /// Writes <paramref name="test"/> beside the saved model <paramref name="zip"/>, has the plain ML.NET app load the model
    /// and transform it in a process of its own, and asserts the output equals <paramref name="expected"/>.
    /// </summary>
    internal static void AssertSameInFreshProcess(MLContext ml, string zip, IDataView test, Table expected, string what)
    {
        string folder = Path.GetDirectoryName(zip)!;
        string input = Path.Combine(folder, "input.idv"), output = Path.Combine(folder, "output.idv");
        using (var stream = File.Create(input)) ml.Data.SaveAsBinary(test, stream);
        var (code, error) = FreshProcess(zip, input, output);
        Assert.AreEqual(0, code, $"{what}: loading in a fresh process failed: {error}");
        AssertSameData(expected, ReadAll(ml.Data.LoadFromBinary(output)), what);
    }

    /// <summary>Runs the plain ML.NET app (tests/MLDefense.FreshProcess) on a model and an input file.</summary>
    internal static (int ExitCode, string Error) FreshProcess(string model, string input, string output)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "MLDefense.FreshProcess.dll"), model, input, output }) start.ArgumentList.Add(arg);
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error.Result);
    }

    internal static void AssertSameColumns(DataViewSchema expected, DataViewSchema actual, string what)
    {
        string Describe(DataViewSchema s) => string.Join(", ", s.Where(c => !c.IsHidden).Select(c => $"{c.Name}: {c.Type}"));
        Assert.AreEqual(Describe(expected), Describe(actual), what);
        foreach (var column in expected.Where(c => !c.IsHidden))
            if (column.Type is VectorDataViewType v)
                CollectionAssert.AreEqual(v.Dimensions.ToArray(), ((VectorDataViewType)actual[column.Name].Type).Dimensions.ToArray(), $"{what}: dimensions of '{column.Name}'");
    }

    /// <summary>Every visible column's values, row by row (vectors as dense arrays).</summary>
    internal sealed record Table(int Rows, Dictionary<string, List<object>> Columns);

    internal static Table ReadAll(IDataView view)
    {
        var columns = view.Schema.Where(c => !c.IsHidden).ToArray();
        var values = columns.ToDictionary(c => c.Name, _ => new List<object>());
        var readers = new List<Func<object>>();
        int rows = 0;
        using var cursor = view.GetRowCursor(columns);
        foreach (var column in columns)
            readers.Add((Func<object>)typeof(MLNetWorkout).GetMethod(nameof(Reader), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(column.Type.RawType).Invoke(null, [cursor, column])!);
        while (cursor.MoveNext())
        {
            rows++;
            for (int i = 0; i < columns.Length; i++) values[columns[i].Name].Add(readers[i]());
        }
        return new Table(rows, values);
    }

    private static Func<object> Reader<T>(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var getter = cursor.GetGetter<T>(column);
        return () =>
        {
            T value = default!;
            getter(ref value);
            return value switch
            {
                VBuffer<float> v => v.DenseValues().ToArray(),
                VBuffer<ReadOnlyMemory<char>> v => v.DenseValues().Select(x => x.ToString()).ToArray(),
                ReadOnlyMemory<char> text => text.ToString(),
                _ => value!,
            };
        };
    }

    /// <summary>
    /// The same rows, columns and values; floats agree to a relative 10⁻⁵. Why not bit for bit: in another process libtorch's
    /// CPU kernels may take another vector path (memory alignment decides) and sum in another order, which moves the last
    /// digit — seen once under load in AE-GAN's searched <c>Purified</c> column (0.50675225 against 0.5067523). A model
    /// that loaded wrongly differs by far more.
    /// </summary>
    internal static void AssertSameData(Table expected, Table actual, string what)
    {
        Assert.AreEqual(expected.Rows, actual.Rows, $"{what}: rows");
        foreach (var (name, values) in expected.Columns)
        {
            Assert.IsTrue(actual.Columns.ContainsKey(name), $"{what}: column '{name}' is missing");
            for (int row = 0; row < values.Count; row++)
            {
                object a = values[row], b = actual.Columns[name][row];
                if (a is float[] floatsA)
                {
                    var floatsB = (float[])b;
                    Assert.AreEqual(floatsA.Length, floatsB.Length, $"{what}: column '{name}', row {row}: length");
                    for (int i = 0; i < floatsA.Length; i++) AssertClose(floatsA[i], floatsB[i], $"{what}: column '{name}', row {row}, element {i}");
                }
                else if (a is float x) AssertClose(x, (float)b, $"{what}: column '{name}', row {row}");
                else if (a is Array arrayA) CollectionAssert.AreEqual(arrayA, (Array)b, $"{what}: column '{name}', row {row}");
                else Assert.AreEqual(a, b, $"{what}: column '{name}', row {row}");
            }
        }
    }

    private static void AssertClose(float expected, float actual, string what)
    {
        if (expected.Equals(actual)) return;   // equal values, both NaN, or the same infinity
        Assert.IsTrue(Math.Abs(expected - actual) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");
    }

    internal static long CountRows(IDataView view)
    {
        long count = 0;
        using var cursor = view.GetRowCursor([]);
        while (cursor.MoveNext()) count++;
        return count;
    }
}
