import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each file starts processes on fixed ports: one file at a time, on a machine with few cores.
    fileParallelism: false,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
