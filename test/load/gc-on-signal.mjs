// Preloaded into the hub under test only (NODE_OPTIONS, with --expose-gc): a full collection on
// SIGUSR2, so that the load test reads the hub's memory at comparable moments instead of wherever
// V8's sawtooth happens to be (its heap swings between ~50 and ~150 MB under steady load).
process.on('SIGUSR2', () => globalThis.gc?.());
