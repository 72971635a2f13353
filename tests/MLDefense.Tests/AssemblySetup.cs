// Tests share process-wide state (the seed, thread count, live-handle counters), so they run one at a time.
[assembly: DoNotParallelize]
