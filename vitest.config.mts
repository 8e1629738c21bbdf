import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/globalSetup.ts', 'test/helpers/gridftpSetup.ts'],
    // Drops every database a test file made, after the file (test/helpers/couch.ts).
    setupFiles: ['test/helpers/dropDatabasesAfterFile.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
