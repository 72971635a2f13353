namespace MLDefense.Samples.ImageApi;

/// <summary>Starts the web app (see <see cref="DefendedImageApp"/>).</summary>
public static class Program
{
    /// <summary>The entry point: builds the app (loading the model) and serves until stopped.</summary>
    public static int Main(string[] args)
    {
        WebApplication app;
        try
        {
            app = DefendedImageApp.Build(args);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException)
        {
            Console.Error.WriteLine($"DefendedImageApi: {ex.Message}");
            return 1;
        }
        app.Run();
        return 0;
    }
}
