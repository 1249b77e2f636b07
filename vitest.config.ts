import { defineConfig } from 'vitest/config';

export default defineConfig({
  // @tollway/* imports run from the workspace sources, as tsc and tsx see them (tsconfig.json paths).
  resolve: { tsconfigPaths: true },
  test: {
    // test/fuzz runs here at a small seeded size (FUZZ_RUNS unset); test/faults and test/load are
    // the long suites of `npm run test:faults` / `npm run test:load` (vitest.slow.config.ts).
    include: ['test/**/*.test.ts'],
    exclude: ['test/faults/**', 'test/load/**', '**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Suites each make their own databases; files run in parallel on the 2 cores.
    pool: 'forks',
  },
});
