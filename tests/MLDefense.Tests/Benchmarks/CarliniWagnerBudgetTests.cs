using MLDefense.Benchmarks;

namespace MLDefense.Tests.Benchmarks;

[TestClass]
public sealed class CarliniWagnerBudgetTests
{
    [TestMethod]
    public void TheAttackCarriesTheBudget()
    {
        var attack = new CarliniWagnerBudget(3, 250, 0.5).CreateAttack();
        Assert.AreEqual(3, attack.BinarySearchSteps);
        Assert.AreEqual(250, attack.MaxIterations);
        Assert.AreEqual(0.5, attack.InitialConstant);
        Assert.AreEqual(0, attack.Confidence);
    }

    [TestMethod]
    public void EveryBenchmarkUsesTheSharedPresets()
    {
        Assert.AreEqual(CarliniWagnerBudget.Full, AttackBenchmarkOptions.Full.CarliniWagner);
        Assert.AreEqual(CarliniWagnerBudget.Full, AeGanBenchmarkOptions.Full.CarliniWagner);
        Assert.AreEqual(CarliniWagnerBudget.Full, MiaedBenchmarkOptions.Full.CarliniWagner);
        Assert.AreEqual(CarliniWagnerBudget.Quick, AttackBenchmarkOptions.Quick.CarliniWagner);
        Assert.AreEqual(CarliniWagnerBudget.Quick, AeGanBenchmarkOptions.Quick.CarliniWagner);
        Assert.AreEqual(CarliniWagnerBudget.Quick, MiaedBenchmarkOptions.Quick.CarliniWagner);
    }

    [TestMethod]
    public void TheDescriptionNamesEverySetting()
    {
        Assert.AreEqual("1 binary-search step × up to 500 Adam iterations (lr 0.01, early abort) from c = 1, κ 0", CarliniWagnerBudget.Quick.Describe());
        StringAssert.StartsWith(new CarliniWagnerBudget(5, 1000, 0.1).Describe(), "5 binary-search steps × up to 1000 Adam iterations");
        StringAssert.Contains(new CarliniWagnerBudget(5, 1000, 0.1).Describe(), "from c = 0.1");
    }

    [TestMethod]
    [DataRow(0, 10, 1.0)]
    [DataRow(1, 0, 1.0)]
    [DataRow(1, 10, 0.0)]
    [DataRow(1, 10, double.NaN)]
    public void ABenchmarkRefusesAnEmptyBudgetBeforeAnyWork(int steps, int iterations, double initialConstant)
    {
        var options = AttackBenchmarkOptions.Quick with { CarliniWagner = new CarliniWagnerBudget(steps, iterations, initialConstant) };
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => AttackBenchmark.Run(options));
        StringAssert.Contains(e.Message, "CW-L2");
    }
}
