using MLDefense.Data;

namespace MLDefense.Legacy.Tests;

[TestClass]
public sealed class PipelineTests
{
    /// <summary>Adds Image + Offset, where Offset is learned as the mean pixel of the training data.</summary>
    private sealed class ShiftEstimator(string column) : IEstimator<ShiftTransformer>
    {
        public int FitCount;
        public ShiftTransformer Fit(IDataView input)
        {
            GetOutputSchema(input.Schema);
            FitCount++;
            var values = input.GetBatches(1000, [column]).SelectMany(b => b.Get<float>(column)).ToArray();
            return new ShiftTransformer(column, values.Average());
        }
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => new ShiftTransformer(column, 0).GetOutputSchema(inputSchema);
    }

    private sealed class ShiftTransformer(string column, float offset) : BatchTransformer
    {
        public float Offset => offset;
        public override IReadOnlyList<string> GetInputColumns(DataViewSchema inputSchema) => [column];
        public override IReadOnlyList<DataViewSchema.Column> GetAddedColumns(DataViewSchema inputSchema)
        {
            var c = inputSchema[column];
            if (c.Type is not VectorDataViewType) throw new ArgumentException($"Column '{column}': expected a vector, found {c.Type}.");
            return [c with { }];
        }
        public override IReadOnlyList<Array> MapBatch(DataBatch input)
        {
            var x = input.Get<float>(column);
            return [Array.ConvertAll(x, v => v + offset)];
        }
    }

    public sealed class Row
    {
        [VectorType(2)] public float[] X { get; set; } = [];
        public int Label { get; set; }
    }

    [TestMethod]
    public void ChainFitsStepByStepOnTransformedDataAndPropagatesSchema()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { X = [1, 3], Label = 0 }, new Row { X = [5, 7], Label = 1 } });
        var first = new ShiftEstimator("X");
        var second = new ShiftEstimator("X");
        var chain = first.Append(second);
        var model = chain.Fit(data);

        Assert.AreEqual(4f, ((ShiftTransformer)model.Transformers[0]).Offset, "mean of 1,3,5,7");
        Assert.AreEqual(8f, model.LastTransformer.Offset, "fitted on the output of the first step");
        var output = model.Transform(data);
        Assert.IsTrue(model.GetOutputSchema(data.Schema).SameAs(output.Schema));
        var rows = ml.Data.CreateEnumerable<Row>(output).ToList();
        CollectionAssert.AreEqual(new float[] { 13, 15 }, rows[0].X, "the new X hides the old one");
        Assert.AreEqual(1, rows[1].Label);
    }

    [TestMethod]
    public void ChainChecksEverySchemaBeforeTraining()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { X = [1, 3], Label = 0 } });
        var first = new ShiftEstimator("X");
        var bad = new ShiftEstimator("Label");
        var ex = Assert.ThrowsExactly<ArgumentException>(() => first.Append(bad).Fit(data));
        StringAssert.Contains(ex.Message, "Column 'Label'");
        Assert.AreEqual(0, first.FitCount, "nothing was trained");
    }

    [TestMethod]
    public void TransformIsLazyAndOnlyComputesRequestedColumns()
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 10).Select(i => new Row { X = [i, i], Label = i }).ToArray());
        var view = new ShiftTransformer("X", 1).Transform(data);
        var labels = view.GetBatches(3, ["Label"]).SelectMany(b => b.Get<int>("Label")).ToArray();
        CollectionAssert.AreEqual(Enumerable.Range(0, 10).ToArray(), labels);
        var batch = view.GetBatches(3, ["Label"]).First();
        Assert.IsFalse(batch.Has(view.Schema["X"]), "X was not requested, so it was not computed");
    }
}
