import { defineConfig } from 'vitest/config';

// Every test. GPU test files skip themselves, saying why, where no GPU is present;
// `npm run test:gpu` runs only those (on the GPU host).
export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
