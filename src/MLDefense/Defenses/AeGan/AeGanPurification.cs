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
        return perValue.mean([1]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The encoder-assisted search of Alg. 2: gradient descent on ‖G(z) − x‖² (summed over each image's values) from
    /// <paramref name="start"/>, z_{t+1} = clip_[−1,1](z_t − η_t ∇_z ‖G(z_t) − x‖²) with
    /// η_t = <paramref name="stepSize"/> · 2^(−⌊t / <paramref name="halvingInterval"/>⌋), each image on its own, and a
    /// descent safeguard: a step that would raise an image's distance is not taken, and that image's step size is halved
    /// from then on (a backtracking line search). So the search never ends farther from x than G(F(x)).
    /// </summary>
    /// <remarks>
    /// The safeguard is ours. Alg. 2 writes plain descent with a fixed η, which the paper does not give; a fixed η on the
    /// summed distance depends on the scale of G's gradient, which grows as G trains. Measured on MNIST (classifier A 1 epoch;
    /// AE-GAN 10 epochs at w = 32 on all 60 000 training images; 100 test images, L = 15, η = 0.1, plain descent): the first
    /// step raised the mean ‖G(z) − x‖² from 3.1 to 77.0 on clean digits and from 37.7 to 116.7 on FGSM ε = 0.3 AEs, and
    /// after 15 steps it was 44.0 and 74.6 — the search made every reconstruction worse and AE-GAN+sr less accurate than
    /// G(F(x)) (FGSM 0.22 against 0.35 on 200 images). Each step costs what a plain one does (one forward and backward pass
    /// through G at the candidate, whose gradient is the next step's if it is taken; the last needs only the forward); a
    /// rejected step costs the same and moves nothing, so L counts both.
    /// </remarks>
    /// <param name="generator">G, in evaluation mode (so that each image's gradient is independent of the batch).</param>
    /// <param name="start">[N, k] starting codes (not modified).</param>
    /// <param name="images">[N, C, H, W] targets x.</param>
    /// <param name="steps">L, the number of gradient steps (tried steps, taken or not).</param>
    /// <param name="stepSize">η, the initial step size.</param>
    /// <param name="halvingInterval">Steps between halvings of η; <see cref="int.MaxValue"/> keeps it constant.</param>
    /// <param name="trace">When given, receives the mean ‖G(z_t) − x‖² per image at z₀ and after each step (L + 1 values, never rising).</param>
    /// <param name="unrolled">
    /// False (default): the search runs outside the autograd graph and returns codes without gradient history. True: the
    /// same steps stay in the graph — each gradient ∇_z ‖G(z_t) − x‖² is taken with <c>create_graph</c>, so z_L is a
    /// differentiable function of <paramref name="start"/> and <paramref name="images"/> (second derivatives of G included),
    /// as Defense-GAN's white-box attack differentiates its reconstruction (<c>back_prop=True</c> over the GD loop); the
    /// safeguard's accept/reject choices and the step-size factors are piecewise constant, so the gradient is that of the
    /// branch each image took. The values are the same either way. Used only when grad mode is on and a start or the
    /// images require grad (otherwise there is no graph to keep and the plain search runs).
    /// </param>
    /// <returns>[N, k] the final codes z_L: without gradient history, or (<paramref name="unrolled"/>) in the graph.</returns>
    public static Tensor SearchLatent(Module<Tensor, Tensor> generator, Tensor start, Tensor images, int steps, double stepSize,
        int halvingInterval, List<double>? trace = null, bool unrolled = false)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        ArgumentOutOfRangeException.ThrowIfLessThan(halvingInterval, 1);
        bool keepGraph = KeepsGraph(unrolled, start, images);
        if (steps == 0 && trace is null) return keepGraph ? start.alias() : start.detach().clone();
        // The search differentiates through G even when the caller is in a no-grad region (a Transform).
        using var grad = torch.enable_grad();
        using var outer = torch.NewDisposeScope();
        var target = keepGraph ? images : images.detach();
        // The accepted code of each image, its distance and gradient there, and its own step-size factor (halved on each rejection).
        var z = keepGraph ? start.alias() : start.detach().clone();
        var (distance, gradient) = DistanceAndGradient(generator, z, target, keepGraph);
        var factor = torch.ones([z.size(0), 1], z.dtype, z.device);
        trace?.Add(distance.sum().ToDouble() / target.size(0));
        for (int t = 0; t < steps; t++)
        {
            using var scope = torch.NewDisposeScope();
            Tensor candidate;
            using (OutsideGraph(keepGraph)) candidate = (z - gradient * factor * (stepSize * Math.Pow(0.5, t / halvingInterval))).clamp(-1, 1);
            // After the last step only the distance decides; no further step needs its gradient.
            bool last = t == steps - 1;
            Tensor candidateDistance, candidateGradient = gradient;
            if (last)
                using (torch.no_grad()) candidateDistance = Distance(generator, candidate, target);
            else
                (candidateDistance, candidateGradient) = DistanceAndGradient(generator, candidate, target, keepGraph);
            // The choices (accepted, factor) are constants of the graph; the codes and gradients chosen keep their history when unrolled.
            using (OutsideGraph(keepGraph))
            {
                var accepted = candidateDistance.le(distance);
                var acceptedRow = accepted.unsqueeze(1);
                Replace(ref z, torch.where(acceptedRow, candidate, z).MoveToOuterDisposeScope());
                Replace(ref distance, torch.where(accepted, candidateDistance, distance).MoveToOuterDisposeScope());
                if (!last)
                {
                    Replace(ref gradient, torch.where(acceptedRow, candidateGradient, gradient).MoveToOuterDisposeScope());
                    Replace(ref factor, torch.where(acceptedRow, factor, factor * 0.5).MoveToOuterDisposeScope());
                }
            }
            trace?.Add(distance.sum().ToDouble() / target.size(0));
        }
        return z.MoveToOuterDisposeScope();
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
    /// <param name="generator">G, in evaluation mode.</param>
    /// <param name="images">[N, C, H, W] targets x.</param>
    /// <param name="latentDimension">k.</param>
    /// <param name="restarts">R, random starts per image.</param>
    /// <param name="iterations">L, momentum steps per start.</param>
    /// <param name="stepSize">The step size on the summed distance before the decay.</param>
    /// <param name="seed">The seed of the starts.</param>
    /// <param name="unrolled">
    /// True keeps the L steps of every start in the autograd graph (each gradient taken with <c>create_graph</c>), so the
    /// reconstruction is a differentiable function of <paramref name="images"/> — Defense-GAN's white-box setting
    /// (<c>whitebox.py</c>: <c>reconstruct(..., back_prop=True)</c>). The per-image choice of the best start is a constant of
    /// the graph. The graph holds R·L steps of G per image: memory grows with N·R·L. Default false. As in
    /// <see cref="SearchLatent"/>, used only when grad mode is on and the images require grad.
    /// </param>
    public static Tensor DefenseGanProjection(Module<Tensor, Tensor> generator, Tensor images, int latentDimension, int restarts, int iterations,
        double stepSize, int seed, bool unrolled = false)
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
        // The starts take the images' dtype (float32 in every purifier; a float64 G and images serve gradient checks).
        var z0 = torch.tensor(starts, [restarts * n, latentDimension], device: images.device).to(images.dtype);
        var targets = images.repeat(restarts, 1, 1, 1);
        int decayAfter = (int)Math.Ceiling(0.8 * iterations);
        bool keepGraph = KeepsGraph(unrolled, z0, images);
        var z = DescendWithMomentum(generator, z0, targets, iterations, t => t < decayAfter ? stepSize : 0.1 * stepSize, momentum: 0.7, keepGraph);
        using var noGrad = OutsideGraph(keepGraph);
        var reconstructions = generator.forward(z);
        Tensor errors;
        using (torch.no_grad()) errors = (reconstructions - targets).square().flatten(1).sum(1).view(restarts, n);
        var best = errors.argmin(0);
        var rows = best * n + torch.arange(n, ScalarType.Int64, images.device);
        return reconstructions.index_select(0, rows).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// L steps of heavy-ball gradient descent on ‖G(z) − x‖², each projected onto [−1, 1]^k:
    /// v_{t+1} = μ·v_t + ∇_z ‖G(z_t) − x‖², z_{t+1} = clip(z_t − η_t·v_{t+1}) (TensorFlow's momentum form, as Defense-GAN).
    /// </summary>
    /// <remarks>With <paramref name="keepGraph"/> the steps stay in the autograd graph (see <see cref="DefenseGanProjection"/>).</remarks>
    private static Tensor DescendWithMomentum(Module<Tensor, Tensor> generator, Tensor start, Tensor images, int steps, Func<int, double> stepSize,
        double momentum, bool keepGraph = false)
    {
        using var grad = torch.enable_grad();
        using var outer = torch.NewDisposeScope();
        var target = keepGraph ? images : images.detach();
        var z = keepGraph ? start.alias() : start.detach().clone();
        Tensor? velocity = null;
        for (int t = 0; t < steps; t++)
        {
            using var scope = torch.NewDisposeScope();
            var (_, gradient) = DistanceAndGradient(generator, z, target, keepGraph);
            using (OutsideGraph(keepGraph))
            {
                var nextVelocity = (velocity is null ? gradient : velocity * momentum + gradient).MoveToOuterDisposeScope();
                velocity?.Dispose();
                velocity = nextVelocity;
                Replace(ref z, (z - velocity * stepSize(t)).clamp(-1, 1).MoveToOuterDisposeScope());
            }
        }
        return z.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per image, ‖G(z) − x‖² [N] (without gradient history) and its gradient with respect to z [N, k]: without history, or,
    /// with <paramref name="keepGraph"/>, taken with <c>create_graph</c> at <paramref name="codes"/> as they are in the graph,
    /// so that the gradient is itself differentiable with respect to whatever the codes and the target came from.
    /// </summary>
    private static (Tensor Distance, Tensor Gradient) DistanceAndGradient(Module<Tensor, Tensor> generator, Tensor codes, Tensor target,
        bool keepGraph = false)
    {
        using var scope = torch.NewDisposeScope();
        var z = codes;
        if (!keepGraph || !z.requires_grad)
        {
            z = codes.detach();
            z.requires_grad = true;
        }
        var distance = Distance(generator, z, target);
        // G runs in evaluation mode, so image i's distance depends on z_i alone and the gradient of the sum is the per-image one.
        var gradient = torch.autograd.grad([distance.sum()], [z], retain_graph: keepGraph, create_graph: keepGraph)[0];
        return (distance.detach().MoveToOuterDisposeScope(), gradient.MoveToOuterDisposeScope());
    }

    /// <summary>Whether an unrolled search has a graph to keep: asked for, grad mode on (the caller's), and something to differentiate.</summary>
    private static bool KeepsGraph(bool unrolled, Tensor start, Tensor images) =>
        unrolled && torch.is_grad_enabled() && (start.requires_grad || images.requires_grad);

    /// <summary>A no-grad region for the plain search's bookkeeping; nothing (the graph records) when the search is unrolled.</summary>
    private static IDisposable? OutsideGraph(bool keepGraph) => keepGraph ? null : torch.no_grad();

    /// <summary>‖G(z) − x‖² per image [N], summed over each image's values.</summary>
    private static Tensor Distance(Module<Tensor, Tensor> generator, Tensor codes, Tensor target) =>
        (generator.forward(codes) - target).square().flatten(1).sum(1);

    /// <summary>Frees a loop variable's previous tensor as it takes the next, so that long searches hold one of each.</summary>
    private static void Replace(ref Tensor current, Tensor next)
    {
        current.Dispose();
        current = next;
    }
}
