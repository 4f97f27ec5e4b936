import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GgufFile } from '../../src/gguf/file.js';
import { writeGguf } from '../../src/gguf/writer.js';
import { npyHeader, parseNpy } from '../../src/npy.js';
import { perMatrixOutput } from '../../src/cli/commands/matmul.js';
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

  it('multiplies each matrix of a 3-D W (an expert stack) by the same x, writing y as [ne2, n, ne1] as ggml does', () => {
    const dir = tempDir();
    const [ne0, ne1, ne2, n] = [4, 3, 2, 2];
    const w = Float32Array.from({ length: ne0 * ne1 * ne2 }, (_, i) => (i % 7) - 3 + i / 64); // distinct, exact in f32
    const x = Float32Array.from({ length: n * ne0 }, (_, i) => 1 + i * 0.5);
    writeFileSync(join(dir, 'experts.gguf'), writeGguf({ tensors: [{ name: 'exps', typeId: 0, shape: [ne0, ne1, ne2], data: new Uint8Array(w.buffer) }] }));
    writeFileSync(join(dir, 'x.npy'), Buffer.concat([npyHeader('f32', [n, ne0]), Buffer.from(x.buffer)]));
    const r = cli(['matmul', join(dir, 'experts.gguf'), '-t', 'exps', '-b', 'cpu', '-i', join(dir, 'x.npy'), '-o', join(dir, 'y.npy')]);
    expect(r.code, r.stderr).toBe(0);
    const y = parseNpy(readFileSync(join(dir, 'y.npy')));
    expect(y.shape).toEqual([ne2, n, ne1]);
    const got = new Float32Array(y.data.buffer.slice(y.data.byteOffset, y.data.byteOffset + y.data.byteLength));
    for (let e = 0; e < ne2; e++) {
      for (let j = 0; j < n; j++) {
        for (let r1 = 0; r1 < ne1; r1++) {
          let sum = 0;
          for (let k = 0; k < ne0; k++) sum += w[(e * ne1 + r1) * ne0 + k]! * x[j * ne0 + k]!;
          expect(got[(e * n + j) * ne1 + r1], `expert ${e}, column ${j}, row ${r1}`).toBe(Math.fround(sum));
        }
      }
    }
  });

  it('orders a 4-D W\'s products as [ne3, ne2, n, ne1], and leaves a 2-D W\'s y as it is', () => {
    // the kernels' y: [n, rows], the rows matrix after matrix; value = 100 * column + row
    const [ne1, ne2, ne3, n] = [2, 3, 2, 2];
    const rows = ne1 * ne2 * ne3;
    const y = Float32Array.from({ length: n * rows }, (_, i) => 100 * Math.floor(i / rows) + (i % rows));
    const out = perMatrixOutput(y, n, [5, ne1, ne2, ne3]);
    expect(out.shape).toEqual([ne3, ne2, n, ne1]);
    for (let m3 = 0; m3 < ne3; m3++) {
      for (let m2 = 0; m2 < ne2; m2++) {
        for (let j = 0; j < n; j++) {
          for (let r1 = 0; r1 < ne1; r1++) {
            expect(out.values[((m3 * ne2 + m2) * n + j) * ne1 + r1]).toBe(100 * j + (m3 * ne2 + m2) * ne1 + r1);
          }
        }
      }
    }
    const flat = perMatrixOutput(y, n, [5, rows]);
    expect(flat).toEqual({ shape: [n, rows], values: y });
    expect(perMatrixOutput(y, n, [5, rows, 1, 1]).values).toBe(y);
  });
});
