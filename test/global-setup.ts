import { execFileSync } from 'node:child_process';

// CLI tests run bin/gguf-gpu.js, which imports dist/: build it once so they test the current source.
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
