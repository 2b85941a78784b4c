import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Broker-restart tests stop RabbitMQ for everyone: never beside another file.
    fileParallelism: false,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
