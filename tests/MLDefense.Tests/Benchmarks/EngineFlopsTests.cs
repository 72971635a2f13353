using MLDefense.Benchmarks;
using MLDefense.Data;
using MLDefense.Defenses;

namespace MLDefense.Tests.Benchmarks;

[TestClass]
public sealed class EngineFlopsTests
{
    [TestMethod]
    public void PassesCountEachLayerOnceForwardAndTwiceBackward()
    {
        var net = new NetworkFlops([10, 20, 30]);
        Assert.AreEqual(60, net.Forward);
        Assert.AreEqual(180, net.Training(inputGradient: true));
        Assert.AreEqual(170, net.Training(inputGradient: false), "the first layer's input gradient is skipped");
        Assert.AreEqual(110, net.Backward(inputGradient: false));
        Assert.AreEqual(120, net.InputGradient);
    }

    [TestMethod]
    public void LayerFormulas()
    {
        Assert.AreEqual(2.0 * 3 * 8 * 25 * 6 * 7, EngineFlops.Conv2d(3, 8, 5, 6, 7));
        Assert.AreEqual(2.0 * 4 * 2 * 9 * 3 * 5, EngineFlops.ConvTranspose2d(4, 2, 3, 3, 5));
        Assert.AreEqual(2.0 * 1600 * 200, EngineFlops.Linear(1600, 200));
        Assert.AreEqual(2.0 * 1024 * 1024 * 1024, EngineFlops.Matmul(1024));
    }

    [TestMethod]
    public void ClassifiersAtTheBenchmarksSizes()
    {
        // A: Conv(1→64, 5×5, same) on 28×28, Conv(64→64, 5×5, stride 2) to 12×12, FC 9216→128, FC 128→10.
        CollectionAssert.AreEqual(new[] { 2_508_800.0, 29_491_200, 2_359_296, 2_560 }, EngineFlops.ClassifierA.Layers.ToArray());
        Assert.AreEqual(3 * 34_361_856.0 - 2_508_800, EngineFlops.PerImage(EngineBenchmarkCase.ClassifierATrainStep));
        // C1: Conv(1→32, 3×3) to 26×26, Conv(32→64, 3×3) to 11×11, FC 1600→200, FC 200→10.
        CollectionAssert.AreEqual(new[] { 389_376.0, 4_460_544, 640_000, 4_000 }, EngineFlops.MnistC1.Layers.ToArray());
        Assert.AreEqual(3 * 5_493_920.0 - 389_376, EngineFlops.PerImage(EngineBenchmarkCase.TrainStep));
        Assert.AreEqual(2 * 5_493_920.0, EngineFlops.PerImage(EngineBenchmarkCase.InputGradient));
    }

    [TestMethod]
    public void AeGanOnATinyConfiguration()
    {
        // 8×8×1 images (8 → 4 → 2 → 1), width 1, latent 2, by hand.
        var (f, g, d) = EngineFlops.AeGan(new ImageShape(1, 8, 8), baseChannels: 1, latentDimension: 2);
        CollectionAssert.AreEqual(new[] { 800.0, 400, 400, 16 }, f.Layers.ToArray());
        CollectionAssert.AreEqual(new[] { 800.0, 400, 400, 8 }, d.Layers.ToArray());
        CollectionAssert.AreEqual(new[] { 16.0, 400, 400, 800 }, g.Layers.ToArray());
        // D twice without input gradient (8,048), once with (4,824); G from z (4,832) and from F(x) (4,848); F (4,048).
        Assert.AreEqual(26_600, EngineFlops.AeGanTrainStep(new ImageShape(1, 8, 8), 1, 2));
        // F, G(F(x)), 3 distances with gradients, the last distance, G(z_L).
        Assert.AreEqual(1_616 + 3 * 1_616 + 3 * 2 * 1_616, EngineFlops.AeGanPurify(new ImageShape(1, 8, 8), 1, 2, steps: 3));
    }

    [TestMethod]
    public void MiaedOnATinyConfiguration()
    {
        // Table 3's networks on 8×8×1 (8 → 4 → 2 by the poolings), base 2 (convolutions 2, 2, 4, 4), latent 2,
        // discriminators 4: feature map 4×2×2 = 16, by hand. Encoder convolutions 2·Cin·Cout·9·H·W at 8×8, 8×8, 4×4, 4×4.
        var options = new MiaedOptions { BaseChannels = 2, LatentDimension = 2, DiscriminatorHiddenUnits = 4 };
        var (e, g, global, local, critic) = EngineFlops.Miaed(options, new ImageShape(1, 8, 8));
        CollectionAssert.AreEqual(new[] { 2_304.0, 4_608, 2_304, 4_608, 64 }, e.Layers.ToArray());
        // FC 2 → 16, convolutions 4 → 4 twice at 4×4, then 4 → 2, 2 → 2 and 2 → 1 at 8×8.
        CollectionAssert.AreEqual(new[] { 64.0, 4_608, 4_608, 9_216, 4_608, 2_304 }, g.Layers.ToArray());
        CollectionAssert.AreEqual(new[] { 144.0, 32, 8 }, global.Layers.ToArray());
        CollectionAssert.AreEqual(new[] { 192.0, 128, 32 }, local.Layers.ToArray(), "1×1 convolutions at 4 locations");
        CollectionAssert.AreEqual(new[] { 16.0, 32, 8 }, critic.Layers.ToArray());
        // Eq. 15's step: E 3·13,888 − 2,304 = 39,360, G twice 2·3·25,408 = 152,448, the MI discriminators 1,104 + 2,112,
        // the critic on y 168: 195,192; the gradient penalty 336; the critic on latents and prior samples 304.
        Assert.AreEqual(195_832, EngineFlops.MiaedTrainStep(options, new ImageShape(1, 8, 8)));
    }

    [TestMethod]
    public void EveryCaseHasACount()
    {
        foreach (var c in Enum.GetValues<EngineBenchmarkCase>())
            Assert.IsTrue(EngineFlops.PerImage(c) > 0, c.ToString());
    }
}
