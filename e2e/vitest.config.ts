import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'], // the chaos suite runs on its own: pnpm test:chaos
    globalSetup: ['./test/global-setup.ts'],
    // One system under test: files run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    // expect.poll waits 1 s by default: a sign-in (a password hash) or a page's first render takes
    // longer than that on a busy 2-core machine, and a poll is a wait for a condition, not a timer
    expect: { poll: { timeout: 10_000 } },
    hookTimeout: 120_000,
  },
});
