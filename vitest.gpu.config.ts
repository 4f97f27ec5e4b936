import { defineConfig } from 'vitest/config';

// GPU tests: run on the GPU host (`npm run test:gpu`); each file skips itself, saying why, without a GPU.
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/gpu/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
