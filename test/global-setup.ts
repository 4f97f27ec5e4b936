import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// CLI tests run bin/gguf-gpu.js, which imports dist/: build it once so they test the current source.
// The GPU host has no TypeScript compiler (the packed runtime leaves it out): there dist/ is carried.
export default function setup(): void {
  const tsc = 'node_modules/typescript/bin/tsc';
  if (!existsSync(tsc)) {
    if (!existsSync('dist/cli/main.js')) throw new Error('dist/ is missing and TypeScript is not installed to build it');
    return;
  }
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
