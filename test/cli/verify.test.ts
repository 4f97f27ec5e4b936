import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { decoderFor, replaceDecoderForTesting } from '../../src/quant/index.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeGguf } from '../../src/gguf/writer.js';
import { cli, QUANTS, tempDir } from './helpers.js';

/** Runs the CLI in this process (so a decoder can be swapped) and captures stdout. */
async function runInProcess(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await main(['node', 'gguf-gpu', ...args]);
    return { code, stdout };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('main() run twice in one process', () => {
  it('gives each run its own --json state', async () => {
    expect((await runInProcess(['inspect', QUANTS, '--json'])).code).toBe(0);
    const second = await runInProcess(['inspect', '/nonexistent/x.gguf', '--json']);
    expect(second.code).toBe(3);
    expect(JSON.parse(second.stdout).error.kind).toBe('input');
  });
});

describe('gguf-gpu verify --backend cpu', () => {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  it('passes the built-in suite and ggml known answers with exit 0', () => {
    const r = cli(['verify', '--backend', 'cpu', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.pass).toBe(true);
    expect(report.tensors.filter((t: { tensor: string }) => t.tensor.startsWith('known-answer:')).length).toBe(19);
    expect(report.summary.map((s: { type: string }) => s.type)).toContain('IQ4_XS');
  });

  it('checks a file and lists a table per tensor', () => {
    const r = cli(['verify', QUANTS, '--backend', 'cpu', '--tensor', 'blk.1.*']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/blk\.1\.q6_K\.wide\s+Q6_K/);
    expect(r.stdout).toMatch(/all checks passed: 4 tensor\(s\) and 19 ggml known answers/);
  });

  it('counts a tensor of the file by what it is, not by its name (one named like a known answer)', () => {
    const path = join(tempDir(), 'named.gguf');
    writeFileSync(path, writeGguf({ tensors: [{ name: 'known-answer:x', typeId: 2, shape: [32, 2], data: new Uint8Array(36) }] }));
    const r = cli(['verify', path, '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/all checks passed: 1 tensor\(s\) and 19 ggml known answers/);
  });

  it('says a file without tensors had nothing to check, never that its checks passed', () => {
    const path = join(tempDir(), 'vocab-only.gguf');
    writeFileSync(path, writeGguf({}));
    const r = cli(['verify', path, '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/checks that ran passed: 0 tensor\(s\) and 19 ggml known answers; the file holds no tensors to check$/m);
  });

  it('fails with exit 1 and names the tensor when a decoder is broken', async () => {
    const q4k = decoderFor(12)!;
    restore = replaceDecoderForTesting(12, (src, dst, n) => {
      q4k.decode(src, dst, n);
      dst[5] = dst[5]! + 1e-3; // one wrong weight per call
    });
    const r = await runInProcess(['verify', '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED: .*known-answer:blk\.0\.q4_K\.small/);
  });

  it('exits 4 when the GPU is needed and missing, after reporting the CPU checks', () => {
    const r = cli(['verify', '--tensor', 'blk.2.*', QUANTS], { GGUF_GPU_LIB: '/nonexistent/libgguf_gpu.so' });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/GPU unavailable/);
    expect(r.stdout).toMatch(/blk\.2\.q4_0\.edge/);
    expect(r.stdout).toMatch(/all CPU checks that ran passed: \d+ tensor\(s\) and 19 ggml known answers; the GPU checks did not run/);
    expect(r.stdout).not.toMatch(/nmse n=/);
    expect(r.stderr).toMatch(/--backend cpu/);
  });

  it('exits 3 when a tensor could not be checked, and refuses --batch, which only the GPU uses', () => {
    const dir = tempDir();
    const path = join(dir, 'odd.gguf');
    // an F32 tensor and one of type I32 (26), which has no decoder
    writeFileSync(path, writeGguf({ tensors: [{ name: 'ok', typeId: 0, shape: [4], data: new Uint8Array(16) }, { name: 'ints', typeId: 26, shape: [4], data: new Uint8Array(16) }] }));
    const r = cli(['verify', path, '--backend', 'cpu', '--json']);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).pass).toBe(false);
    expect(r.stderr).toMatch(/1 tensor\(s\) could not be checked: ints \(type I32 is not supported\)/);
    const batch = cli(['verify', QUANTS, '--backend', 'cpu', '--batch', 'abc']);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toMatch(/--batch does not apply to --backend cpu/);
  });
});
