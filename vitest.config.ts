import { defineConfig } from 'vitest/config';

// CPU tests: everything under test/ except the GPU suite, which has its own config.
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    exclude: ['test/gpu/**', 'node_modules/**'],
    testTimeout: 60_000,
  },
});
