namespace MLDefense.Defenses;

/// <summary>
/// The networks being built for a transformer, until it takes them: disposing frees every network added, unless
/// <see cref="HandOver{T}"/> passed them on. Fit and Load use it so that a failure (bad data, a cancelled token, weights
/// that do not fit) leaves nothing allocated.
/// </summary>
internal sealed class PendingNetworks : IDisposable
{
    private readonly List<IDisposable> networks = [];

    /// <summary>Adds a network to free on failure and returns it.</summary>
    internal T Add<T>(T network) where T : IDisposable
    {
        networks.Add(network);
        return network;
    }

    /// <summary>Passes the networks on to their new owner (typically the transformer just built from them) and returns it.</summary>
    internal T HandOver<T>(T owner)
    {
        networks.Clear();
        return owner;
    }

    /// <summary>Frees the networks not handed over.</summary>
    public void Dispose()
    {
        foreach (var network in networks) network.Dispose();
        networks.Clear();
    }
}
