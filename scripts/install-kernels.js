#!/usr/bin/env node
// Builds the GPU kernel library when the package is installed (npm's install script) and the CUDA compiler is available.
//
//   nvcc on PATH                -> bash scripts/build-kernels.sh; a failed build fails the install
//   nvcc missing                -> a note on stderr; the install succeeds (CPU commands still work)
//   GGUF_GPU_SKIP_KERNELS=1     -> skip the build entirely
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.GGUF_GPU_SKIP_KERNELS === '1') {
  process.stderr.write('gguf-gpu: GGUF_GPU_SKIP_KERNELS=1; the GPU library was not built\n');
  process.exit(0);
}

const probe = spawnSync('nvcc', ['--version'], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) {
  process.stderr.write(
    'gguf-gpu: nvcc not found; the GPU library was not built; CPU commands still work; ' +
      'run npm run build:kernels once CUDA is installed\n',
  );
  process.exit(0);
}

const build = spawnSync('bash', [join(root, 'scripts', 'build-kernels.sh')], { cwd: root, stdio: 'inherit' });
if (build.error) {
  process.stderr.write(`gguf-gpu: could not run scripts/build-kernels.sh: ${build.error.message}\n`);
  process.exit(1);
}
if (build.status !== 0) {
  process.stderr.write(
    `gguf-gpu: building the GPU library failed (exit ${build.status ?? build.signal}); ` +
      'fix the error above, or set GGUF_GPU_SKIP_KERNELS=1 to install without it\n',
  );
  process.exit(build.status || 1);
}
