import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// The host side of gg_upload / gg_upload_file (kernels/upload_pipeline.h: several threads read
// pieces into staging slots while earlier slots copy) needs no GPU: test/native/upload-pipeline.cpp
// runs it against a fake copy engine. Built here with the C++ compiler nvcc uses, under
// ThreadSanitizer where the toolchain has it.
const cxx = process.env.CXX || 'c++';
const probe = spawnSync(cxx, ['--version'], { stdio: 'ignore' });
const haveCxx = !probe.error && probe.status === 0;
const dir = haveCxx ? mkdtempSync(join(tmpdir(), 'gguf-gpu-pipeline-')) : '';
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function build(sanitize: boolean): { exe: string; ok: boolean; log: string } {
  const exe = join(dir, sanitize ? 'pipeline-tsan' : 'pipeline');
  const flags = ['-std=c++17', '-O1', '-g', '-Wall', '-Wextra', '-Werror', '-pthread', '-Ikernels'];
  if (sanitize) flags.push('-fsanitize=thread');
  const r = spawnSync(cxx, [...flags, 'test/native/upload-pipeline.cpp', '-o', exe], { encoding: 'utf8' });
  return { exe, ok: r.status === 0, log: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!haveCxx)(`the upload pipeline against a fake copy engine (${haveCxx ? cxx : `no ${cxx}`})`, () => {
  it('delivers every byte in order, reports the first failure, and never refills a slot that is still copying', () => {
    const plain = build(false);
    expect(plain.ok, plain.log).toBe(true);
    let run = spawnSync(plain.exe, { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^ok \d+ cases/m);

    // ThreadSanitizer: skipped where the toolchain or the kernel cannot run it (no libtsan, or an
    // address-space layout it refuses), not where it finds something.
    const tsan = build(true);
    if (!tsan.ok) return;
    run = spawnSync(tsan.exe, { encoding: 'utf8', timeout: 300_000, env: { ...process.env, TSAN_OPTIONS: 'halt_on_error=1' } });
    if (run.status !== 0 && /FATAL: ThreadSanitizer|unexpected memory mapping/.test(run.stderr)) return;
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^ok \d+ cases/m);
  });
});
