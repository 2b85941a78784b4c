import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['chaos/**/*.test.ts'],
    globalSetup: ['./chaos/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 180_000,
  },
});
