namespace MLDefense.Defenses;

/// <summary>
/// How the defenses' estimators reject options: an out-of-range value throws <see cref="ArgumentOutOfRangeException"/>
/// naming the option ("AeGanOptions.Epochs must be at least 1."), and column names must be non-empty, with distinct
/// added columns.
/// </summary>
/// <param name="optionsType">The options record's name, which starts every message (<c>nameof(SaecOptions)</c>).</param>
internal readonly struct OptionRules(string optionsType)
{
    /// <summary>Throws unless <paramref name="ok"/>: "{options type}.{name} {rule}.", with the option's name and value.</summary>
    internal void Require(bool ok, string name, object? value, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{optionsType}.{name} {rule}.");
    }

    /// <summary>Throws <see cref="ArgumentException"/> when a column name is empty or two added columns share a name.</summary>
    /// <param name="defense">The defense, for the messages ("MIAED").</param>
    /// <param name="inputs">The names of the columns read.</param>
    /// <param name="outputs">The added columns: what each holds ("score") and its name.</param>
    internal static void RequireColumnNames(string defense, IEnumerable<string> inputs, params (string Role, string Name)[] outputs)
    {
        var names = Array.ConvertAll(outputs, o => o.Name);
        if (inputs.Concat(names).Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException($"{defense} column names must not be empty.", "options");
        if (names.Distinct().Count() != names.Length)
        {
            var roles = Array.ConvertAll(outputs, o => o.Role);
            throw new ArgumentException($"{defense}'s {string.Join(", ", roles[..^1])} and {roles[^1]} columns need distinct names; " +
                $"got {string.Join(", ", names)}.", "options");
        }
    }
}
