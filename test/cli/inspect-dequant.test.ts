import { spawnSync } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gguf/file.js';
import { parseNpy } from '../../src/npy.js';
import { writeGguf } from '../../src/gguf/writer.js';
import { f32ArrayToF16 } from '../../src/quant/index.js';
import { cli, FIXTURES, QUANTS, REFS, ROOT, tempDir } from './helpers.js';

describe('gguf-gpu inspect', () => {
  it('--json prints the promised shape and nothing else', () => {
    const r = cli(['inspect', QUANTS, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ version: 3, alignment: 32, dataOffset: 1952 });
    expect(j.metadata['general.architecture']).toBe('llama');
    expect(j.metadata['fixture.seed']).toBe(1);
    expect(j.tensors).toHaveLength(25);
    expect(j.tensors[0]).toEqual({ name: 'blk.0.f32.small', type: 'F32', shape: [512, 33], offset: 1952, nbytes: 67584 });
    expect(j.tensors.find((t: { name: string }) => t.name === 'blk.1.q6_K.wide')).toMatchObject({ type: 'Q6_K', shape: [4096, 48], nbytes: 161280 });
  });

  it('prints a readable table with a per-type summary', () => {
    const r = cli(['inspect', QUANTS]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/GGUF v3 \(little-endian\), alignment 32, data at byte 1952/);
    expect(r.stdout).toMatch(/blk\.0\.q4_K\.small\s+Q4_K\s+\[512, 33\]\s+9504/);
    expect(r.stdout).toMatch(/By type:/);
    expect(r.stdout).toMatch(/"hello", \.\.\. \(6 items\)\]/);
    expect(cli(['inspect', QUANTS, '--full']).stdout).toMatch(/"hello", "wörld", "▁the"\]/);
  });

  it('shows an unknown type id\'s bytes as ? in the tensor table and in the per-type summary alike', () => {
    const bytes = writeGguf({ tensors: [{ name: 'odd', typeId: 0, shape: [4], data: new Uint8Array(16) }] });
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(47, 99, true); // the tensor's type id (name 'odd' at 24)
    const path = join(tempDir(), 'odd.gguf');
    writeFileSync(path, bytes);
    const r = cli(['inspect', path]);
    expect(r.stdout).toMatch(/^odd\s+type#99\s+\[4\]\s+\?/m);
    expect(r.stdout).toMatch(/^type#99\s+1\s+4\s+\?\s/m);
  });

  it('calls an empty file empty, and dequant makes no --out directory when it has nothing to write', () => {
    const dir = tempDir();
    const empty = join(dir, 'empty.gguf');
    writeFileSync(empty, '');
    const r = cli(['inspect', empty]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/empty\.gguf: an empty file \(0 bytes\), not a GGUF file/);
    const headerOnly = join(dir, 'header-only.gguf');
    writeFileSync(headerOnly, writeGguf({ tensors: [] }));
    expect(cli(['dequant', headerOnly, '--backend', 'cpu', '--out', join(dir, 'nothing')]).code).toBe(0);
    expect(existsSync(join(dir, 'nothing'))).toBe(false);
  });

  it('exits 3 with one line naming the file on a truncated file', () => {
    const dir = tempDir();
    const cut = join(dir, 'cut.gguf');
    writeFileSync(cut, readFileSync(QUANTS).subarray(0, 1000));
    const r = cli(['inspect', cut]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('cut.gguf');
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('shows the header of a header-only file, and exits 3 counting the tensors whose data it lacks', () => {
    const r = cli(['inspect', join(FIXTURES, 'llama3-8b-shape.header.gguf')]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/token_embd\.weight\s+Q4_K\s+\[4096, 128256\]/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/the file is truncated: 292 of 292 tensors lack their data \(the first, token_embd\.weight: /);
    const j = cli(['inspect', join(FIXTURES, 'llama3-8b-shape.header.gguf'), '--json']);
    expect(j.code).toBe(3);
    expect(JSON.parse(j.stdout).problems).toHaveLength(292);
    // the other commands skip what is missing: here, everything
    const out = tempDir();
    const d = cli(['dequant', join(FIXTURES, 'llama3-8b-shape.header.gguf'), '-b', 'cpu', '-o', out]);
    expect(d.code).toBe(3);
    expect(d.stderr).toMatch(/skipped token_embd\.weight \(Q4_K\): Q4_K data of \d+ bytes is larger than the whole file/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('a partly downloaded file gives its whole tensors and names the missing ones (dequant, matmul, verify)', () => {
    const path = join(tempDir(), 'partial.gguf');
    writeFileSync(path, readFileSync(QUANTS).subarray(0, 500_000)); // ends inside blk.1.q8_0.wide
    const out = tempDir();
    const whole = cli(['dequant', path, '-b', 'cpu', '-o', out, '-t', 'blk.0.*', '-t', 'blk.1.q4_0.wide']);
    expect(whole.code, whole.stderr).toBe(0);
    expect(readdirSync(out)).toHaveLength(16);
    const all = cli(['dequant', path, '-b', 'cpu', '-o', tempDir(), '--json']);
    expect(all.code).toBe(3);
    const rows = JSON.parse(all.stdout).tensors as { tensor: string; skipped?: string }[];
    expect(rows.filter((r) => r.skipped).map((r) => r.tensor)).toEqual(['blk.1.q8_0.wide', 'blk.2.q8_0.edge', 'blk.1.q4_K.wide', 'blk.2.q4_K.edge', 'blk.1.q6_K.wide', 'blk.2.q6_K.edge', 'blk.3.q8_0.3d', 'output_norm.weight']);
    expect(rows.find((r) => r.tensor === 'blk.1.q8_0.wide')!.skipped).toMatch(/lies past the end of the file \(500000 bytes\); the file is truncated/);
    expect(cli(['matmul', path, '-b', 'cpu', '-t', 'blk.2.q4_0.edge']).code).toBe(0);
    const cut = cli(['matmul', path, '-b', 'cpu', '-t', 'blk.1.q8_0.wide']);
    expect(cut.code).toBe(3);
    expect(cut.stderr).toMatch(/tensor blk\.1\.q8_0\.wide: data \[377504, 586400\) lies past the end/);
    const v = cli(['verify', path, '-b', 'cpu']);
    expect(v.code).toBe(3);
    expect(v.stdout).toMatch(/17 tensor\(s\) and 19 ggml known answers; 8 tensor\(s\) could not be checked/);
  });

  it('exits 2 on usage errors', () => {
    expect(cli(['inspect']).code).toBe(2);
    expect(cli(['frobnicate']).code).toBe(2);
    expect(cli(['dequant', QUANTS, '--dtype', 'f64']).code).toBe(2);
    const help = cli(['help', 'frobnicate']);
    expect(help.code).toBe(2);
    expect(help.stderr).toMatch(/^gguf-gpu: unknown command 'frobnicate' \(the commands: inspect, dequant, matmul, verify, bench, help\)\n$/);
    expect(cli(['help', 'verify']).stdout).toMatch(/^Usage: gguf-gpu verify/);
    expect(cli(['dequant', QUANTS, '-b', 'cpu', '-t', 'BLK.0.Q4_0.*']).stderr).toMatch(/no tensor matches "BLK\.0\.Q4_0\.\*" \(names are case-sensitive: "blk\.0\.q4_0\.small"\)/);
    // an option that would be ignored, and an output "-" that would be a file of that name
    expect(cli(['matmul', QUANTS, '-t', 'blk.1.q4_K.wide', '-b', 'cpu', '--force']).stderr).toMatch(/--force does not apply without --out/);
    for (const args of [['matmul', QUANTS, '-t', 'blk.1.q4_K.wide', '-b', 'cpu', '-o', '-'], ['dequant', QUANTS, '-b', 'cpu', '-o', '-']]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--out - would write to a file named "-"/);
    }
  });
});

describe('--json when a command fails', () => {
  it('prints the error as the one JSON document on stdout, and the same line on stderr', () => {
    const missing = cli(['inspect', '/nonexistent/x.gguf', '--json']);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout)).toEqual({
      error: { kind: 'input', exitCode: 3, message: '/nonexistent/x.gguf: cannot open: no such file or directory (ENOENT)', file: '/nonexistent/x.gguf' },
    });
    expect(missing.stderr).toMatch(/^gguf-gpu: \/nonexistent\/x\.gguf: cannot open/);
    const usage = cli(['dequant', QUANTS, '--dtype', 'f64', '--json']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout).error).toMatchObject({ kind: 'usage', exitCode: 2, code: 'commander.invalidArgument' });
    const tensor = cli(['matmul', QUANTS, '-t', 'nope', '-b', 'cpu', '--json']);
    expect(JSON.parse(tensor.stdout).error).toMatchObject({ kind: 'usage', exitCode: 2, message: expect.stringMatching(/no tensor named "nope"/) });
    const unwritable = cli(['dequant', QUANTS, '-b', 'cpu', '-t', 'blk.0.f32.small', '-o', '/proc/x', '--json']);
    expect(JSON.parse(unwritable.stdout).error).toMatchObject({ kind: 'output', exitCode: 5, path: expect.stringMatching(/^\/proc/) });
  });

  it('knows --json from the parsed options: `-o --json` names a directory, `-t -- --json` asks for JSON', () => {
    const dir = tempDir();
    const asDir = spawnSync(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), 'dequant', QUANTS, '-b', 'cpu', '-t', 'blk.0.f32.small', '-o', '--json'], { cwd: dir, encoding: 'utf8' });
    expect(asDir.status, asDir.stderr).toBe(0);
    expect(asDir.stdout).toMatch(/^blk\.0\.f32\.small\s+F32 .* -> --json\/blk\.0\.f32\.small\.npy/);
    const dash = cli(['dequant', QUANTS, '-b', 'cpu', '-t', '--', '--json', '-o', dir]);
    expect(dash.code).toBe(2);
    expect(JSON.parse(dash.stdout).error.message).toMatch(/no tensor matches "--"/);
  });

  it('a full disk on stdout is exit 5 with one line, unless the run failed for its own reason', () => {
    const full = spawnSync(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), 'inspect', QUANTS, '--json'], { stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'], encoding: 'utf8' });
    expect(full.status).toBe(5);
    expect(full.stderr).toBe('gguf-gpu: cannot write to stdout: no space left on device (ENOSPC)\n');
    const missing = spawnSync(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), 'inspect', '/nonexistent/x.gguf'], { stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'], encoding: 'utf8' });
    expect(missing.status).toBe(3);
  });

  it('adds nothing after a report it printed, and prints nothing on stdout without --json or after --', () => {
    const truncated = cli(['inspect', join(FIXTURES, 'llama3-8b-shape.header.gguf'), '--json']);
    expect(truncated.code).toBe(3);
    expect(Object.keys(JSON.parse(truncated.stdout))).not.toContain('error'); // the report, whose problems say why
    expect(cli(['inspect', '/nonexistent/x.gguf']).stdout).toBe('');
    expect(cli(['inspect', '--', '--json']).stdout).toBe('');
    expect(cli(['inspect', '--help', '--json']).code).toBe(0);
  });
});

describe('gguf-gpu dequant --backend cpu', () => {
  it('writes every fixture tensor bit-exactly as ggml, in numpy order', () => {
    const out = tempDir();
    const r = cli(['dequant', QUANTS, '--backend', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const refs = GgufFile.open(REFS);
    try {
      const files = readdirSync(out);
      expect(files).toHaveLength(25);
      for (const name of files) {
        const tensorName = name.replace(/\.npy$/, '');
        const ref = refs.tensor(tensorName);
        const npy = parseNpy(readFileSync(join(out, name)));
        expect(npy.shape).toEqual([...ref.shape].reverse());
        expect(Buffer.compare(Buffer.from(npy.data), refs.readTensorBytes(ref)), tensorName).toBe(0);
      }
    } finally {
      refs.close();
    }
  });

  it('writes f16 with round-to-nearest-even, selects by glob, refuses to overwrite without --force', () => {
    const out = tempDir();
    const r = cli(['dequant', QUANTS, '--backend', 'cpu', '--out', out, '--dtype', 'f16', '-t', 'blk.2.*', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.tensors.map((t: { tensor: string }) => t.tensor)).toEqual(['blk.2.q4_0.edge', 'blk.2.q8_0.edge', 'blk.2.q4_K.edge', 'blk.2.q6_K.edge']);
    const refs = GgufFile.open(REFS);
    try {
      const ref = refs.readTensorBytes(refs.tensor('blk.2.q6_K.edge'));
      const expected = f32ArrayToF16(new Float32Array(ref.buffer.slice(ref.byteOffset, ref.byteOffset + ref.length)));
      const npy = parseNpy(readFileSync(join(out, 'blk.2.q6_K.edge.npy')));
      expect(npy.dtype).toBe('f16');
      expect(Buffer.compare(Buffer.from(npy.data), Buffer.from(expected.buffer))).toBe(0);
    } finally {
      refs.close();
    }
    const again = cli(['dequant', QUANTS, '--backend', 'cpu', '--out', out, '-t', 'blk.2.q4_0.edge', '--dtype', 'f16']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists \(use --force/);
    expect(cli(['dequant', QUANTS, '--backend', 'cpu', '--out', out, '-t', 'blk.2.q4_0.edge', '--force']).code).toBe(0);
    expect(readdirSync(out).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('exits 2 when a glob matches nothing', () => {
    const r = cli(['dequant', QUANTS, '--backend', 'cpu', '--out', tempDir(), '-t', 'nope*']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no tensor matches "nope\*"/);
  });

  it('exits 4 with a pointer to --backend cpu when no GPU library exists', () => {
    const r = cli(['dequant', QUANTS, '--out', tempDir(), '-t', 'blk.2.q4_0.edge'], { GGUF_GPU_LIB: '/nonexistent/libgguf_gpu.so' });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/--backend cpu/);
    expect(existsSync('/nonexistent')).toBe(false);
  });
});
