import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const FIXTURES = join(ROOT, '..', 'shared', 'fixtures');
export const QUANTS = join(FIXTURES, 'ggml-quants.gguf');
export const REFS = join(FIXTURES, 'ggml-quants.ref.gguf');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process, as a user would. */
export function cli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0', ...env },
    maxBuffer: 256 << 20,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const made: string[] = [];
process.on('exit', () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-gpu-test-'));
  made.push(dir);
  return dir;
}
