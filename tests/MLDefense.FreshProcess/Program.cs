using Microsoft.ML;

// Usage: MLDefense.FreshProcess <model.zip> <input.idv> <output.idv>
// Loads the model with nothing but ML.NET's API (no registration call), transforms the input (ML.NET's binary data
// format, which keeps vector dimensions) and writes every column of the output. Errors go to stderr with exit code 1.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: MLDefense.FreshProcess <model.zip> <input.idv> <output.idv>");
    return 2;
}
try
{
    var ml = new MLContext(seed: 1);
    var model = ml.Model.Load(args[0], out _);
    var input = ml.Data.LoadFromBinary(args[1]);
    using var output = File.Create(args[2]);
    ml.Data.SaveAsBinary(model.Transform(input), output, keepHidden: false);
    return 0;
}
catch (Exception ex)
{
    Console.Error.WriteLine($"{ex.GetType().Name}: {ex.Message}");
    for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException) Console.Error.WriteLine($"  inner {inner.GetType().Name}: {inner.Message}");
    return 1;
}
