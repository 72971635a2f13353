// Tests share process-wide state (the seed, thread count, live-handle counters), so they run one at a time.
[assembly: DoNotParallelize]

namespace MLDefense.Tests;

[TestClass]
public static class AssemblySetup
{
    /// <summary>Removes the attack fixtures made for this run (see <see cref="AttackFixtures"/>).</summary>
    [AssemblyCleanup]
    public static void DeleteFixtures() => AttackFixtures.DeleteMade();
}
