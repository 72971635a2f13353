using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace MLDefense.Cli.Infrastructure;

/// <summary>Parsers for option values whose errors name the option and the value, in one line.</summary>
public static class OptionParsers
{
    /// <summary>A whole number of at least <paramref name="minimum"/>.</summary>
    public static int WholeNumber(ArgumentResult result, int minimum)
    {
        var text = result.Tokens[0].Value;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= minimum) return n;
        result.AddError($"{OptionName(result)}: '{text}' is not a whole number of at least {minimum}.");
        return minimum;
    }

    /// <summary>A number greater than zero.</summary>
    public static double PositiveNumber(ArgumentResult result)
    {
        var text = result.Tokens[0].Value;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x > 0 && double.IsFinite(x)) return x;
        result.AddError($"{OptionName(result)}: '{text}' is not a number greater than 0.");
        return 1;
    }

    /// <summary>A finite number of at least zero.</summary>
    public static double NonNegativeNumber(ArgumentResult result)
    {
        var text = result.Tokens[0].Value;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x >= 0 && double.IsFinite(x)) return x;
        result.AddError($"{OptionName(result)}: '{text}' is not a number of at least 0.");
        return 0;
    }

    /// <summary>A file whose folder exists (the file itself may not yet).</summary>
    public static FileInfo FileInExistingFolder(ArgumentResult result)
    {
        var file = new FileInfo(result.Tokens[0].Value);
        if (file.Directory is { Exists: false } folder) result.AddError($"{OptionName(result)}: the folder {folder.FullName} does not exist.");
        return file;
    }

    /// <summary>A folder that exists.</summary>
    public static DirectoryInfo ExistingFolder(ArgumentResult result)
    {
        var folder = new DirectoryInfo(result.Tokens[0].Value);
        if (!folder.Exists) result.AddError($"{OptionName(result)}: the folder {folder.FullName} does not exist.");
        return folder;
    }

    /// <summary>The option an argument belongs to, as the user typed it (for messages).</summary>
    public static string OptionName(ArgumentResult result) =>
        result.Parent is OptionResult option ? option.IdentifierToken?.Value ?? option.Option.Name : result.Argument.Name;

    /// <summary>An <see cref="ArgumentException"/>'s message without the " (Parameter 'name')" suffix, for a one-line error.</summary>
    public static string MessageOf(ArgumentException e) => e.Message.Split(" (Parameter")[0];

    /// <summary>An option of type <typeparamref name="T"/> parsed by <paramref name="parse"/> (which reports its own errors).</summary>
    public static Option<T> Create<T>(string name, string description, string helpName, Func<ArgumentResult, T> parse) => new(name)
    {
        Description = description,
        HelpName = helpName,
        CustomParser = parse,
    };
}
