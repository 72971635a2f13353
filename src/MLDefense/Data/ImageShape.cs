namespace MLDefense.Data;

/// <summary>
/// The shape of an image column: channels × height × width, stored channel-first (CHW) as a float vector with
/// values in [0, 1]; in an ML.NET column, the dimensions of a <c>Vector&lt;Single, C, H, W&gt;</c>.
/// </summary>
public sealed record ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Floats per image.</summary>
    public int Size => Channels * Height * Width;

    /// <summary>Validates the shape (1 or 3 channels are typical; 1..4 accepted).</summary>
    public ImageShape Validate()
    {
        if (Channels is < 1 or > 4 || Height < 1 || Width < 1)
            throw new ArgumentException($"Invalid image shape {this}: need 1-4 channels and positive height and width.");
        return this;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}
