import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gguf/file.js';
import { npyHeader, parseNpy } from '../../src/npy.js';
import { cli, QUANTS, REFS, tempDir } from './helpers.js';

/** A reference tensor of the .ref file written as .npy in numpy order. */
function refAsNpy(refs: GgufFile, name: string, path: string): void {
  const t = refs.tensor(name);
  writeFileSync(path, Buffer.concat([npyHeader('f32', [...t.shape].reverse()), refs.readTensorBytes(t)]));
}

describe('gguf-gpu matmul --backend cpu', () => {
  it('reproduces ggml\'s float64 products on the fixtures', () => {
    const dir = tempDir();
    const refs = GgufFile.open(REFS);
    try {
      refAsNpy(refs, 'x.wide', join(dir, 'x.npy'));
      for (const w of ['blk.1.q4_0.wide', 'blk.1.q6_K.wide']) {
        const out = join(dir, `${w}.y.npy`);
        const r = cli(['matmul', QUANTS, '-t', w, '-b', 'cpu', '-i', join(dir, 'x.npy'), '-o', out, '--json']);
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ tensor: w, batch: 8, backend: 'cpu' });
        const y = parseNpy(readFileSync(out));
        expect(y.shape).toEqual([8, 48]);
        expect(Buffer.compare(Buffer.from(y.data), refs.readTensorBytes(refs.tensor(`y.${w}`)))).toBe(0);
      }
    } finally {
      refs.close();
    }
  });

  it('rejects activations of the wrong width and unknown tensors', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.npy'), Buffer.concat([npyHeader('f32', [2, 100]), Buffer.alloc(800)]));
    const r = cli(['matmul', QUANTS, '-t', 'blk.1.q4_0.wide', '-b', 'cpu', '-i', join(dir, 'x.npy')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/expected \(n, 4096\)/);
    // a name not in the file is the command line's mistake, as dequant's and verify's -t
    const unknown = cli(['matmul', QUANTS, '-t', 'blk.2.*', '-b', 'cpu']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no tensor named "blk\.2\.\*" \(matmul takes one exact name/);
    const empty = join(dir, 'empty.npy');
    writeFileSync(empty, Buffer.from(npyHeader('f32', [0, 4096])));
    expect(cli(['matmul', QUANTS, '-t', 'blk.1.q4_0.wide', '-b', 'cpu', '-i', empty]).stderr).toMatch(/0 rows: the batch must be from 1 to 65536/);
  });

  it('refuses options it would ignore, and numbers that are not plain integers', () => {
    const run = (...extra: string[]) => cli(['matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '-b', 'cpu', ...extra]);
    const kernel = run('--kernel', 'imma_decode_n4');
    expect(kernel.code).toBe(2);
    expect(kernel.stderr).toMatch(/--kernel does not apply to --backend cpu/);
    expect(run('--no-check').stderr).toMatch(/--no-check does not apply to --backend cpu/);
    const dir = tempDir();
    writeFileSync(join(dir, 'x.npy'), Buffer.concat([npyHeader('f32', [1, 256]), Buffer.alloc(1024)]));
    expect(run('-i', join(dir, 'x.npy'), '--seed', '5').stderr).toMatch(/--seed does not apply to --input/);
    expect(run('-i', join(dir, 'x.npy'), '--batch', '2').stderr).toMatch(/--batch does not apply to --input/);
    for (const bad of ['1e3', '0x10', '', '0', '65537']) expect(run('--batch', bad).code, `--batch "${bad}"`).toBe(2);
    for (const bad of ['-1', '4294967296', '1.5']) expect(run('--seed', bad).code, `--seed "${bad}"`).toBe(2);
    expect(run('--batch', '3', '--seed', '4294967295').code).toBe(0);
    writeFileSync(join(dir, 'y.npy'), 'old');
    expect(run('-o', join(dir, 'y.npy')).stderr).toMatch(/y\.npy exists \(use --force/);
  });
});
