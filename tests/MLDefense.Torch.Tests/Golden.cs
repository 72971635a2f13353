using MLDefense.Torch.IO;

namespace MLDefense.Torch.Tests;

/// <summary>Elementwise comparison of tensors with dtype-dependent tolerances: |actual − expected| ≤ atol + rtol·|expected|.</summary>
internal static class Approx
{
    /// <summary>float64: both sides run the same libtorch kernels, so only rounding-order noise is allowed.</summary>
    public const double Rtol64 = 1e-10, Atol64 = 1e-12;
    /// <summary>float32.</summary>
    public const double Rtol32 = 1e-5, Atol32 = 1e-6;

    public static double[] Values(Tensor t)
    {
        if (t.dtype == ScalarType.Float64) return t.data<double>();
        using var d = t.to(ScalarType.Float64);
        return d.data<double>();
    }

    /// <summary>Asserts same shape, same dtype and close values (exact for integer and bool tensors; NaN matches NaN).</summary>
    public static void AssertClose(Tensor actual, Tensor expected, string what, double? rtol = null, double? atol = null)
    {
        var (sa, se) = (actual.shape, expected.shape);
        if (!sa.SequenceEqual(se))
            throw new AssertFailedException($"{what}: shape [{string.Join(", ", sa)}], expected [{string.Join(", ", se)}]");
        if (actual.dtype != expected.dtype)
            throw new AssertFailedException($"{what}: dtype {actual.dtype}, expected {expected.dtype}");
        bool floating = expected.dtype is ScalarType.Float64 or ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16;
        double rt = rtol ?? (expected.dtype == ScalarType.Float64 ? Rtol64 : floating ? Rtol32 : 0);
        double at = atol ?? (expected.dtype == ScalarType.Float64 ? Atol64 : floating ? Atol32 : 0);
        var (a, e) = (Values(actual), Values(expected));
        for (int i = 0; i < e.Length; i++)
        {
            bool ok = double.IsNaN(e[i]) ? double.IsNaN(a[i])
                    : double.IsInfinity(e[i]) ? a[i] == e[i]
                    : Math.Abs(a[i] - e[i]) <= at + rt * Math.Abs(e[i]);
            if (!ok)
                throw new AssertFailedException($"{what}: element {i} (of {e.Length}) is {a[i]:R}, expected {e[i]:R} (|diff| {Math.Abs(a[i] - e[i]):E2}, rtol {rt:E0}, atol {at:E0})");
        }
    }
}

/// <summary>
/// One golden_&lt;family&gt;.safetensors fixture written by fixtures/make_golden.py. A case C holds C.in0.., C.out
/// (C.out1..), C.gout (C.gout1..) and C.grad&lt;i&gt; for the inputs PyTorch differentiated. <see cref="Case"/> runs the
/// MLDefense version of the operation on the same inputs and compares the outputs and the gradients of
/// Σₖ sum(outₖ·goutₖ); every case of the file must be visited, so a case cannot be forgotten on either side.
/// Failures are collected and reported together by <see cref="Verify"/>.
/// </summary>
internal sealed class GoldenFixture : IDisposable
{
    private readonly Dictionary<string, Tensor> data;
    private readonly SortedSet<string> pending;
    private readonly List<string> failures = new();

    public string Family { get; }
    public int CasesChecked { get; private set; }
    public int GradientsChecked { get; private set; }

    public static string PathOf(string family) => Path.Combine(AppContext.BaseDirectory, "fixtures", $"golden_{family}.safetensors");

    public GoldenFixture(string family)
    {
        Family = family;
        var path = PathOf(family);
        if (!File.Exists(path)) throw new AssertFailedException($"missing fixture {path} (the build makes it with fixtures/make_golden.py and /usr/bin/python3)");
        data = Safetensors.Load(path);
        pending = new SortedSet<string>(data.Keys.Where(k => k.EndsWith(".out", StringComparison.Ordinal)).Select(k => k[..^4]), StringComparer.Ordinal);
    }

    /// <summary>A stored tensor (shared: clone before mutating or differentiating).</summary>
    public Tensor this[string key] =>
        data.TryGetValue(key, out var t) ? t : throw new AssertFailedException($"{Family}: the fixture has no tensor '{key}'");

    public bool Has(string key) => data.ContainsKey(key);

    /// <summary>Checks a case with one output.</summary>
    public void Case(string name, Func<Tensor[], Tensor> op) => Cases(name, x => [op(x)]);

    /// <summary>Checks a case with several outputs (out, out1, ...).</summary>
    public void Cases(string name, Func<Tensor[], Tensor[]> op)
    {
        try
        {
            if (!pending.Remove(name)) throw new AssertFailedException("not in the fixture, or checked twice");
            Run(name, op);
            CasesChecked++;
        }
        catch (Exception ex)
        {
            failures.Add($"{Family}/{name}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    private void Run(string name, Func<Tensor[], Tensor[]> op)
    {
        using var scope = torch.NewDisposeScope();
        var inputs = new List<Tensor>();
        while (Has($"{name}.in{inputs.Count}")) inputs.Add(this[$"{name}.in{inputs.Count}"].clone());
        var differentiated = Enumerable.Range(0, inputs.Count).Where(i => Has($"{name}.grad{i}")).ToList();
        foreach (var i in differentiated) inputs[i].requires_grad = true;

        var outputs = op(inputs.ToArray());
        int expectedOutputs = 1;
        while (Has($"{name}.out{expectedOutputs}")) expectedOutputs++;
        if (outputs.Length != expectedOutputs) throw new AssertFailedException($"{outputs.Length} outputs, PyTorch gave {expectedOutputs}");
        for (int k = 0; k < outputs.Length; k++)
        {
            var key = k == 0 ? $"{name}.out" : $"{name}.out{k}";
            Approx.AssertClose(outputs[k], this[key], key);
        }
        if (differentiated.Count == 0) return;

        var seeded = Enumerable.Range(0, outputs.Length).Where(k => Has(k == 0 ? $"{name}.gout" : $"{name}.gout{k}")).ToList();
        if (seeded.Count == 0) throw new AssertFailedException("the fixture differentiates inputs but seeds no output");
        var grads = torch.autograd.grad(seeded.Select(k => outputs[k]).ToList(), differentiated.Select(i => inputs[i]).ToList(),
                                        seeded.Select(k => (Tensor?)this[k == 0 ? $"{name}.gout" : $"{name}.gout{k}"]).ToList(), allow_unused: true);
        for (int j = 0; j < differentiated.Count; j++)
        {
            var key = $"{name}.grad{differentiated[j]}";
            if (grads[j] is { } g) Approx.AssertClose(g, this[key], key);
            else if (Approx.Values(this[key]).Any(v => v != 0)) throw new AssertFailedException($"{key}: MLDefense found no path to the input, PyTorch a non-zero gradient");
            GradientsChecked++;
        }
    }

    /// <summary>Fails with every collected failure, and with the cases of the fixture that were never checked.</summary>
    public void Verify()
    {
        if (pending.Count > 0) failures.Add($"{Family}: fixture cases not checked by the test: {string.Join(", ", pending)}");
        if (failures.Count > 0) Assert.Fail($"{failures.Count} golden failure(s):\n" + string.Join("\n", failures));
        Assert.IsTrue(CasesChecked > 0, $"{Family}: no case checked");
    }

    public void Dispose()
    {
        foreach (var t in data.Values) t.Dispose();
    }
}
