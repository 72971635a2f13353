using System.Runtime.InteropServices;
using System.Security.Cryptography;
using MLDefense.Attacks;
using MLDefense.Classifiers;
using MLDefense.Torch;

namespace MLDefense.Benchmarks;

/// <summary>
/// An attack that remembers its examples for a run: a call with the same images, labels and libtorch CPU generator state as
/// an earlier one returns that call's examples and leaves the generator where that call left it, so a protocol run again
/// on a replayed attack draws the same noise after it and gives the same rows, bit for bit on the CPU. Why: a learning
/// curve evaluates one classifier's adversarial examples against the defense after each probed epoch, and the attacks
/// target the classifier alone, so the examples are the same at every probe — and CW-L2 at the full budget costs more than
/// the probe's whole evaluation otherwise. On a GPU the CUDA generator (which TorchSharp 0.107 does not expose) is not part of
/// the key or the replay: a replayed example is then the first call's, which an unreplayed rerun need not reproduce.
/// With a <c>directory</c>, every call is also kept there as a safetensors file (examples and the generator after them),
/// so a run stopped and started again — a paper-budget curve spans many sessions — pays each attack once, not once per
/// start. A file's name is the key plus the classifier's logits on the images, so another classifier (or the same one
/// retrained) never meets another's examples, and <c>settings</c> (the caller's description of the attack's options,
/// which the attack itself does not expose) is hashed in too, so a changed budget is a new file.
/// </summary>
public sealed class ReplayedAttack(IAdversarialAttack attack, string? directory = null, string settings = "") : IAdversarialAttack, IDisposable
{
    private readonly Dictionary<string, (Tensor Examples, Tensor GeneratorAfter)> calls = [];
    private IDifferentiableClassifier? target;

    /// <inheritdoc/>
    public string Name => attack.Name;

    /// <inheritdoc/>
    public AttackNorm Norm => attack.Norm;

    /// <summary>The calls answered from memory or from the folder so far.</summary>
    public int Replays { get; private set; }

    /// <summary>The calls of <see cref="Replays"/> answered from the folder (made by an earlier run).</summary>
    public int ReplaysFromDisk { get; private set; }

    /// <inheritdoc/>
    public Tensor Generate(IDifferentiableClassifier classifier, Tensor images, Tensor labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        target ??= classifier;
        if (!ReferenceEquals(target, classifier))
            throw new InvalidOperationException($"A replayed {attack.Name} attack remembers the examples of one classifier; it was given another.");
        using var before = torch.get_rng_state();
        string key = Key(images, labels, before);
        string? file = directory is null ? null : Path.Combine(directory, $"replay-{FileName(attack.Name)}-{FileKey(key, settings, classifier, images)}.safetensors");
        if (!calls.ContainsKey(key) && file is not null && File.Exists(file))
        {
            var saved = Safetensors.Load(file);
            calls[key] = (saved["examples"].DetachFromDisposeScope(), saved["generator_after"].DetachFromDisposeScope());
            ReplaysFromDisk++;
        }
        if (calls.TryGetValue(key, out var call))
        {
            torch.set_rng_state(call.GeneratorAfter);
            Replays++;
            return call.Examples.to(images.device).clone();
        }
        var examples = attack.Generate(classifier, images, labels, cancellationToken);
        // Kept past the caller's dispose scope (protocols run each batch in one): this object frees them.
        var kept = (Examples: examples.detach().cpu().clone().DetachFromDisposeScope(), GeneratorAfter: torch.get_rng_state().DetachFromDisposeScope());
        calls[key] = kept;
        if (file is not null)
        {
            Directory.CreateDirectory(directory!);
            // Written whole, then renamed: a run stopped mid-write leaves no half file to replay.
            Safetensors.Save(new Dictionary<string, Tensor> { ["examples"] = kept.Examples, ["generator_after"] = kept.GeneratorAfter }, file + ".tmp");
            File.Move(file + ".tmp", file, overwrite: true);
        }
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

    /// <summary>The in-memory key hashed with the attack's settings and the classifier's logits on the images: what a file on disk must match.</summary>
    private static string FileKey(string key, string settings, IDifferentiableClassifier classifier, Tensor images)
    {
        using var scope = torch.NewDisposeScope();
        using var noGradients = torch.no_grad();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Convert.FromHexString(key));
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(settings));
        using var logits = classifier.Logits(images).detach().cpu().contiguous();
        hash.AppendData(MemoryMarshal.AsBytes(logits.data<float>().ToArray().AsSpan()));
        return Convert.ToHexString(hash.GetHashAndReset())[..32];
    }

    private static string FileName(string name) => string.Concat(name.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_'));

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
