using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLDefense.Evaluation;

/// <summary>
/// How evaluation results are written as JSON: arrays of flat rows whose property names (snake_case, fixed by
/// attribute on each row type so that renaming C# members cannot change them) are the ones the benchmarks of the
/// issues name; an undefined number (NaN, ±∞) is written as null, which every JSON reader understands.
/// </summary>
public static class EvaluationJson
{
    /// <summary>The serializer options every result's <c>ToJson</c> uses.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>Serialises rows as an indented JSON array.</summary>
    public static string Serialize<TRow>(IEnumerable<TRow> rows) => JsonSerializer.Serialize(rows.ToList(), Options);

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
            WriteIndented = true,
            Converters = { new NonFiniteAsNullConverter() },
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    private sealed class NonFiniteAsNullConverter : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }
}
