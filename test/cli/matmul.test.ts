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
    expect(cli(['matmul', QUANTS, '-t', 'nope', '-b', 'cpu']).code).toBe(3);
  });

  it('refuses --kernel, which picks a GPU kernel', () => {
    const r = cli(['matmul', QUANTS, '-t', 'blk.1.q4_0.wide', '-b', 'cpu', '--kernel', 'imma_decode_n4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--kernel picks a GPU kernel/);
  });
});
