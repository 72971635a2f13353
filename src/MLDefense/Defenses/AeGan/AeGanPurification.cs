using MLDefense.Torch;
using MLDefense.Torch.Modules;

namespace MLDefense.Defenses;

/// <summary>
/// The tensor computations of AE-GAN's inference (Sec. 3.4, Alg. 2) and of the two baselines it is compared with, on
/// whole batches [N, C, H, W] on the networks' device. Every method returns new tensors the caller owns and frees its
/// temporaries itself. <see cref="AeGanTransformer"/> wraps them with its trained networks and options.
/// </summary>
public static class AeGanPurification
{
    /// <summary>The per-image detection score d(x̂, x): the mean absolute (L1) or squared (MSE) difference per value. [N] float32.</summary>
    public static Tensor ReconstructionError(Tensor reconstruction, Tensor images, AeGanDistance distance)
    {
        ArgumentNullException.ThrowIfNull(reconstruction);
        ArgumentNullException.ThrowIfNull(images);
        using var scope = torch.NewDisposeScope();
        var difference = (reconstruction - images).flatten(1);
        var perValue = distance == AeGanDistance.L1 ? difference.abs() : difference.square();
        return perValue.mean(1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Gradient descent on ‖G(z) − x‖² (summed over each image's values) from <paramref name="start"/>:
    /// z_{t+1} = clip_[−1,1](z_t − η_t ∇_z ‖G(z_t) − x‖²), η_t = <paramref name="stepSize"/> · 2^(−⌊t / <paramref name="halvingInterval"/>⌋).
    /// </summary>
    /// <param name="generator">G, in evaluation mode (so that each image's gradient is independent of the batch).</param>
    /// <param name="start">[N, k] starting codes (not modified).</param>
    /// <param name="images">[N, C, H, W] targets x.</param>
    /// <param name="steps">L, the number of gradient steps.</param>
    /// <param name="stepSize">η, the initial step size.</param>
    /// <param name="halvingInterval">Steps between halvings of η; <see cref="int.MaxValue"/> keeps it constant.</param>
    /// <param name="trace">When given, receives the mean ‖G(z_t) − x‖² per image before each step and after the last (L + 1 values).</param>
    /// <returns>[N, k] the final codes z_L, without gradient history.</returns>
    public static Tensor SearchLatent(Module<Tensor, Tensor> generator, Tensor start, Tensor images, int steps, double stepSize,
        int halvingInterval, List<double>? trace = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(halvingInterval, 1);
        return Descend(generator, start, images, steps, t => stepSize * Math.Pow(0.5, t / halvingInterval), momentum: 0, trace);
    }

    /// <summary>
    /// Defense-GAN's step size, 10 on the per-value mean squared error (Samangouei et al.'s code, <c>REC_LR</c>), expressed
    /// for the summed distance ‖G(z) − x‖² this class descends: 10 / D for images of D values.
    /// </summary>
    public static double DefenseGanStepSize(long valuesPerImage) => 10.0 / valuesPerImage;

    /// <summary>
    /// Defense-GAN-style projection with the same decoder: R random starts z ~ U[−1, 1]^k per image, L steps of gradient
    /// descent with momentum 0.7 on ‖G(z) − x‖² for all N·R codes at once, the step size multiplied by 0.1 after the first
    /// ⌈0.8·L⌉ steps (Defense-GAN's reconstruction: <c>MomentumOptimizer(momentum=0.7)</c>, its learning-rate decay, R = 10,
    /// L = 200), then per image the reconstruction of the start whose final error is lowest. [N, C, H, W].
    /// </summary>
    /// <remarks>
    /// Departures from Defense-GAN, so that the comparison is with the same decoder on the same terms as AE-GAN's search:
    /// the starts are drawn from this GAN's own prior U[−1, 1]^k (Defense-GAN draws N(0, 1/k) for its Gaussian prior), and
    /// each step is clipped to [−1, 1]^k, the region G was trained on. <paramref name="stepSize"/> applies to the summed
    /// distance; <see cref="DefenseGanStepSize"/> gives Defense-GAN's.
    /// </remarks>
    public static Tensor DefenseGanProjection(Module<Tensor, Tensor> generator, Tensor images, int latentDimension, int restarts, int iterations,
        double stepSize, int seed)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(restarts, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        long n = images.size(0);
        var random = new Random(seed);
        var starts = new float[n * restarts * latentDimension];
        for (int i = 0; i < starts.Length; i++) starts[i] = 2 * random.NextSingle() - 1;
        using var scope = torch.NewDisposeScope();
        // Row r·N + i is restart r of image i.
        var z0 = torch.tensor(starts, [restarts * n, latentDimension], images.device);
        var targets = images.repeat(restarts, 1, 1, 1);
        int decayAfter = (int)Math.Ceiling(0.8 * iterations);
        var z = Descend(generator, z0, targets, iterations, t => t < decayAfter ? stepSize : 0.1 * stepSize, momentum: 0.7, trace: null);
        using var noGrad = torch.no_grad();
        var reconstructions = generator.forward(z);
        var errors = (reconstructions - targets).square().flatten(1).sum(1).view(restarts, n);
        var best = errors.argmin(0);
        var rows = best * n + torch.arange(n, ScalarType.Int64, images.device);
        return reconstructions.index_select(0, rows).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// L steps of (heavy-ball) gradient descent on ‖G(z) − x‖², each projected onto [−1, 1]^k:
    /// v_{t+1} = μ·v_t + ∇_z ‖G(z_t) − x‖², z_{t+1} = clip(z_t − η_t·v_{t+1}) (TensorFlow's momentum form; μ = 0 is plain descent).
    /// </summary>
    private static Tensor Descend(Module<Tensor, Tensor> generator, Tensor start, Tensor images, int steps, Func<int, double> stepSize, double momentum,
        List<double>? trace)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        // The search differentiates through G even when the caller is in a no-grad region (a Transform).
        using var grad = torch.enable_grad();
        var target = images.detach();
        var z = start.detach().clone();
        Tensor? velocity = null;
        try
        {
            for (int t = 0; t <= steps; t++)
            {
                using var scope = torch.NewDisposeScope();
                bool last = t == steps;
                if (last && trace is null) break;
                z.requires_grad = !last;
                var loss = (generator.forward(z) - target).square().sum();
                trace?.Add(loss.item<float>() / target.size(0));
                if (last) break;
                var gradient = torch.autograd.grad(loss, z);
                using (torch.no_grad())
                {
                    if (momentum > 0)
                    {
                        var nextVelocity = (velocity is null ? gradient : velocity * momentum + gradient).MoveToOuterDisposeScope();
                        velocity?.Dispose();
                        velocity = nextVelocity;
                        gradient = velocity;
                    }
                    var next = (z.detach() - gradient * stepSize(t)).clamp(-1, 1).MoveToOuterDisposeScope();
                    z.Dispose();
                    z = next;
                }
            }
            z.requires_grad = false;
            return z;
        }
        catch
        {
            z.Dispose();
            throw;
        }
        finally
        {
            velocity?.Dispose();
        }
    }
}
