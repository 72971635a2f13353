// The tests share one trained model and process-wide state (libtorch's threads, the sample's lazily loaded engine),
// so they run one at a time; the concurrency test makes its own parallel requests.
[assembly: DoNotParallelize]
