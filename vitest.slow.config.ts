import { defineConfig } from 'vitest/config';

// The long suites (faults, fuzz at full size, load): run on demand, one file at a time, so their
// figures are not skewed by other suites sharing the two cores.
export default defineConfig({
  // @tollway/* imports run from the workspace sources (tsconfig.json paths), as in vitest.config.ts.
  resolve: { tsconfigPaths: true },
  test: {
    include: ['test/faults/**/*.test.ts', 'test/fuzz/**/*.test.ts', 'test/load/**/*.test.ts'],
    testTimeout: 30 * 60_000,
    hookTimeout: 5 * 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
