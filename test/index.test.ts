import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as lib from '../src/index.js';
import { FIXTURES } from './cli/helpers.js';


describe('the library entry point (package.json main)', () => {
  it('reads a file, dequantizes a tensor bit-exactly with ggml, and names the error types', () => {
    const file = lib.GgufFile.open(`${FIXTURES}/ggml-quants.gguf`);
    const refs = lib.GgufFile.open(`${FIXTURES}/ggml-quants.ref.gguf`);
    try {
      const t = file.tensor('blk.2.q6_K.edge');
      const y = lib.dequantize(t.typeId, file.readTensorBytes(t), t.elements);
      const want = refs.readTensorBytes(refs.tensor('blk.2.q6_K.edge'));
      expect(Buffer.compare(Buffer.from(y.buffer), want)).toBe(0);
    } finally {
      file.close();
      refs.close();
    }
    expect(() => lib.parseGguf(new lib.BufferByteSource(new Uint8Array(8)))).toThrow(lib.InputError);
    expect(typeof lib.Gpu.open).toBe('function'); // importing needs no GPU: the native library loads in open()
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect([pkg.main, pkg.types]).toEqual(['dist/index.js', 'dist/index.d.ts']);
  });
});
