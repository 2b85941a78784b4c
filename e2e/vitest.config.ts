import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'], // the chaos suite runs on its own: pnpm test:chaos
    globalSetup: ['./test/global-setup.ts'],
    // One system under test: files run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
