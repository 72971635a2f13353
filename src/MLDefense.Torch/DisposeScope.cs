namespace MLDefense.Torch;

/// <summary>
/// Frees, when disposed, every tensor created on this thread while it was the innermost scope — the temporaries
/// of a training step or a batch — so hot loops never wait for the GC (which sees neither native nor GPU memory).
/// </summary>
/// <remarks>
/// Threading: scopes are per thread. A tensor belongs to the innermost scope of the thread that created it;
/// a scope must be disposed on the thread that opened it, innermost first. Results that must outlive the
/// scope are moved out with <see cref="MoveToOuter"/> (or <see cref="Tensor.DetachFromDisposeScope"/>).
/// </remarks>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? current;

    private readonly DisposeScope? outer;
    private readonly List<Tensor> owned = new();
    private readonly int threadId = Environment.CurrentManagedThreadId;
    private bool disposed;

    internal DisposeScope()
    {
        outer = current;
        current = this;
    }

    /// <summary>The number of tensors this scope currently owns.</summary>
    public int Count => owned.Count(t => t.Scope == this);

    internal static void Register(Tensor t)
    {
        var scope = current;
        if (scope is null) return;
        t.Scope = scope;
        scope.owned.Add(t);
    }

    /// <summary>Hands a tensor to the enclosing scope (or to no scope: then the caller owns it) and returns it.</summary>
    public Tensor MoveToOuter(Tensor t)
    {
        if (t.Scope != this) return t;
        t.Scope = outer;
        outer?.owned.Add(t);
        return t;
    }

    internal static void Forget(Tensor t) => t.Scope = null;

    /// <summary>Disposes every tensor still owned and restores the enclosing scope.</summary>
    public void Dispose()
    {
        if (disposed) return;
        if (Environment.CurrentManagedThreadId != threadId)
            throw new InvalidOperationException("A DisposeScope must be disposed on the thread that created it.");
        if (current != this)
            throw new InvalidOperationException("DisposeScopes must be disposed innermost first.");
        disposed = true;
        foreach (var t in owned)
            if (t.Scope == this) t.Dispose();
        owned.Clear();
        current = outer;
    }
}
