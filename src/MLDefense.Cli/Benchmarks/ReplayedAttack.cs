using System.Runtime.InteropServices;
using System.Security.Cryptography;
using MLDefense.Attacks;
using MLDefense.Classifiers;

namespace MLDefense.Benchmarks;

/// <summary>
/// An attack that remembers its examples for a run: a call with the same images, labels and libtorch CPU generator state as
/// an earlier one returns that call's examples and leaves the generator where that call left it, so a protocol run again
/// on a replayed attack draws the same noise after it and gives the same rows, bit for bit on the CPU. Why: a learning
/// curve evaluates one classifier's adversarial examples against the defense after each probed epoch, and the attacks
/// target the classifier alone, so the examples are the same at every probe — and CW-L2 at the full budget costs more than
/// the probe's whole evaluation otherwise. On a GPU the CUDA generator (which TorchSharp 0.107 does not expose) is not part of
/// the key or the replay: a replayed example is then the first call's, which an unreplayed rerun need not reproduce.
/// </summary>
public sealed class ReplayedAttack(IAdversarialAttack attack) : IAdversarialAttack, IDisposable
{
    private readonly Dictionary<string, (Tensor Examples, Tensor GeneratorAfter)> calls = [];
    private IDifferentiableClassifier? target;

    /// <inheritdoc/>
    public string Name => attack.Name;

    /// <inheritdoc/>
    public AttackNorm Norm => attack.Norm;

    /// <summary>The calls answered from memory so far.</summary>
    public int Replays { get; private set; }

    /// <inheritdoc/>
    public Tensor Generate(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        target ??= classifier;
        if (!ReferenceEquals(target, classifier))
            throw new InvalidOperationException($"A replayed {attack.Name} attack remembers the examples of one classifier; it was given another.");
        using var before = torch.get_rng_state();
        string key = Key(images, labels, before);
        if (calls.TryGetValue(key, out var call))
        {
            torch.set_rng_state(call.GeneratorAfter);
            Replays++;
            return call.Examples.to(images.device).clone();
        }
        var examples = attack.Generate(classifier, images, labels, cancellationToken);
        // Kept past the caller's dispose scope (protocols run each batch in one): this object frees them.
        calls[key] = (examples.detach().cpu().clone().DetachFromDisposeScope(), torch.get_rng_state().DetachFromDisposeScope());
        return examples;
    }

    /// <summary>Frees the remembered examples.</summary>
    public void Dispose()
    {
        foreach (var (examples, generator) in calls.Values)
        {
            examples.Dispose();
            generator.Dispose();
        }
        calls.Clear();
    }

    private static string Key(Tensor images, Tensor labels, Tensor generator)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var pixels = images.detach().cpu().contiguous()) hash.AppendData(MemoryMarshal.AsBytes(pixels.data<float>().ToArray().AsSpan()));
        using (var classes = labels.cpu().contiguous()) hash.AppendData(MemoryMarshal.AsBytes(classes.data<long>().ToArray().AsSpan()));
        hash.AppendData(generator.data<byte>().ToArray());
        hash.AppendData(BitConverter.GetBytes(images.size(0)));
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
