using MLDefense.Attacks;
using MLDefense.Data;

namespace MLDefense.Tests;

/// <summary>Bad options and bad inputs fail before any work (the model is never called), with messages that say what was wrong.</summary>
[TestClass]
public sealed class AttackBadInputTests
{
    private static ModuleClassifier classifier = null!;

    [ClassInitialize]
    public static void Load(TestContext _) => classifier = AttackFixtures.LoadClassifier();

    [ClassCleanup]
    public static void Free() => classifier.Dispose();

    public static IEnumerable<object[]> BadOptions() =>
    [
        ["epsilon", (Action)(() => new FastGradientAttack(new FastGradientOptions { Epsilon = 0 }))],
        ["epsilon", (Action)(() => new FastGradientAttack(new FastGradientOptions { Epsilon = -0.1, Norm = AttackNorm.L2 }))],
        ["epsilon", (Action)(() => new FastGradientAttack(new FastGradientOptions { Epsilon = double.NaN }))],
        ["norm", (Action)(() => new FastGradientAttack(new FastGradientOptions { Norm = (AttackNorm)7 }))],
        ["epsilon", (Action)(() => new BasicIterativeAttack(new BasicIterativeOptions { Epsilon = 0 }))],
        ["iterations", (Action)(() => new BasicIterativeAttack(new BasicIterativeOptions { Iterations = 0 }))],
        ["stepSize", (Action)(() => new BasicIterativeAttack(new BasicIterativeOptions { StepSize = 0 }))],
        ["epsilon", (Action)(() => new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Epsilon = -1 }))],
        ["iterations", (Action)(() => new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Iterations = -3 }))],
        ["restarts", (Action)(() => new ProjectedGradientDescentAttack(new ProjectedGradientDescentOptions { Restarts = 0 }))],
        ["epsilon", (Action)(() => new MomentumIterativeAttack(new MomentumIterativeOptions { Epsilon = 0 }))],
        ["iterations", (Action)(() => new MomentumIterativeAttack(new MomentumIterativeOptions { Iterations = 0 }))],
        ["decayFactor", (Action)(() => new MomentumIterativeAttack(new MomentumIterativeOptions { DecayFactor = -1 }))],
        ["stepSize", (Action)(() => new MomentumIterativeAttack(new MomentumIterativeOptions { StepSize = 0 }))],
        ["epsilon", (Action)(() => new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Epsilon = 0 }))],
        ["iterations", (Action)(() => new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Iterations = 0 }))],
        ["restarts", (Action)(() => new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Restarts = 0 }))],
        ["momentum", (Action)(() => new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Momentum = 1.5 }))],
        ["rho", (Action)(() => new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Rho = 0 }))],
        ["norm", (Action)(() => new AutoProjectedGradientAttack(new AutoProjectedGradientOptions { Norm = (AttackNorm)7 }))],
        ["confidence", (Action)(() => new CarliniWagnerL2Attack(new CarliniWagnerL2Options { Confidence = -1 }))],
        ["initialConstant", (Action)(() => new CarliniWagnerL2Attack(new CarliniWagnerL2Options { InitialConstant = 0 }))],
        ["binarySearchSteps", (Action)(() => new CarliniWagnerL2Attack(new CarliniWagnerL2Options { BinarySearchSteps = 0 }))],
        ["maxIterations", (Action)(() => new CarliniWagnerL2Attack(new CarliniWagnerL2Options { MaxIterations = 0 }))],
        ["learningRate", (Action)(() => new CarliniWagnerL2Attack(new CarliniWagnerL2Options { LearningRate = 0 }))],
        ["overshoot", (Action)(() => new DeepFoolAttack(new DeepFoolOptions { Overshoot = -0.1 }))],
        ["maxIterations", (Action)(() => new DeepFoolAttack(new DeepFoolOptions { MaxIterations = 0 }))],
    ];

    [TestMethod]
    [DynamicData(nameof(BadOptions))]
    public void BadOptionsAreRejectedWhenTheAttackIsCreated(string parameter, Action create)
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(create);
        Assert.AreEqual(parameter, ex.ParamName);
    }

    public static IEnumerable<object[]> BadInputs() =>
    [
        ["[N, C, H, W]", (Func<Tensor>)(() => torch.rand([2, 28, 28])), (Func<Tensor>)(() => torch.zeros([2], ScalarType.Int64))],
        ["[N, 1, 28, 28]", (Func<Tensor>)(() => torch.rand([2, 3, 28, 28])), (Func<Tensor>)(() => torch.zeros([2], ScalarType.Int64))],
        ["[N, 1, 28, 28]", (Func<Tensor>)(() => torch.rand([2, 1, 32, 32])), (Func<Tensor>)(() => torch.zeros([2], ScalarType.Int64))],
        ["empty", (Func<Tensor>)(() => torch.rand([0, 1, 28, 28])), (Func<Tensor>)(() => torch.zeros([0], ScalarType.Int64))],
        ["float32", (Func<Tensor>)(() => torch.rand([2, 1, 28, 28], ScalarType.Float64)), (Func<Tensor>)(() => torch.zeros([2], ScalarType.Int64))],
        ["int64 labels [2]", (Func<Tensor>)(() => torch.rand([2, 1, 28, 28])), (Func<Tensor>)(() => torch.zeros([2], ScalarType.Int32))],
        ["int64 labels [2]", (Func<Tensor>)(() => torch.rand([2, 1, 28, 28])), (Func<Tensor>)(() => torch.zeros([3], ScalarType.Int64))],
        ["int64 labels [2]", (Func<Tensor>)(() => torch.rand([2, 1, 28, 28])), (Func<Tensor>)(() => torch.zeros([2, 1], ScalarType.Int64))],
        ["[0, 10)", (Func<Tensor>)(() => torch.rand([2, 1, 28, 28])), (Func<Tensor>)(() => torch.tensor(new long[] { 3, 10 }))],
        ["[0, 10)", (Func<Tensor>)(() => torch.rand([2, 1, 28, 28])), (Func<Tensor>)(() => torch.tensor(new long[] { -1, 2 }))],
        ["[0, 1]", (Func<Tensor>)(() => torch.rand([2, 1, 28, 28]).mul(1.5)), (Func<Tensor>)(() => torch.zeros([2], ScalarType.Int64))],
        ["[0, 1]", (Func<Tensor>)(() => torch.full([2, 1, 28, 28], double.NaN)), (Func<Tensor>)(() => torch.zeros([2], ScalarType.Int64))],
    ];

    [TestMethod]
    [DynamicData(nameof(BadInputs))]
    public void BadInputsAreRejectedBeforeTheModelIsCalled(string expected, Func<Tensor> images, Func<Tensor> labels)
    {
        using var scope = torch.NewDisposeScope();
        var x = images();
        var y = labels();
        foreach (var attack in EveryAttack())
        {
            int calls = classifier.Calls;
            var ex = Assert.ThrowsExactly<ArgumentException>(() => attack.Generate(classifier, x, y));
            StringAssert.Contains(ex.Message, expected);
            StringAssert.Contains(ex.Message, attack.Name);
            Assert.AreEqual(calls, classifier.Calls, $"{attack.Name}: the model was called before the input was checked");
        }
    }

    [TestMethod]
    public void TensorsOnAnotherDeviceThanTheModelAreRejected()
    {
        // A model that says it lives on another device (the meta device: TorchSharp refuses to name a CUDA device where
        // there is none): CPU inputs must be refused before anything runs there.
        using var onGpu = new ModuleClassifier(AttackFixtures.SmallC1(10), new ImageShape(1, 28, 28), 10) { Device = torch.META };
        using var scope = torch.NewDisposeScope();
        var ex = Assert.ThrowsExactly<ArgumentException>(() =>
            new FastGradientAttack(new()).Generate(onGpu, torch.rand([2, 1, 28, 28]), torch.zeros([2], ScalarType.Int64)));
        StringAssert.Contains(ex.Message, "cpu");
        StringAssert.Contains(ex.Message, "meta");
        Assert.AreEqual(0, onGpu.Calls);
    }

    [TestMethod]
    public void NullArgumentsAreRejected()
    {
        using var scope = torch.NewDisposeScope();
        var attack = new FastGradientAttack(new());
        var x = torch.rand([1, 1, 28, 28]);
        var y = torch.zeros([1], ScalarType.Int64);
        Assert.ThrowsExactly<ArgumentNullException>(() => attack.Generate(null!, x, y));
        Assert.ThrowsExactly<ArgumentNullException>(() => attack.Generate(classifier, null!, y));
        Assert.ThrowsExactly<ArgumentNullException>(() => attack.Generate(classifier, x, null!));
        Assert.ThrowsExactly<ArgumentNullException>(() => new FastGradientAttack(null!));
    }

    private static IEnumerable<AdversarialAttack> EveryAttack() =>
    [
        new FastGradientAttack(new()),
        new BasicIterativeAttack(new()),
        new ProjectedGradientDescentAttack(new()),
        new MomentumIterativeAttack(new()),
        new AutoProjectedGradientAttack(new()),
        new CarliniWagnerL2Attack(new()),
        new DeepFoolAttack(new()),
    ];
}
