import { defineConfig } from 'vitest/config';

// GPU tests only (`npm run test:gpu`, on the GPU host): one file at a time, so they share the device.
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/gpu/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
