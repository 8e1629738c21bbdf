import { defineConfig } from 'vitest/config';

// Load and fault tests (`npm run test:chaos`): they start their own database servers and pilot
// processes, so no shared globalSetup server; files are *.chaos.ts so the main run never picks them up.
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    globalSetup: ['test/chaos/support/buildDist.ts'],
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
