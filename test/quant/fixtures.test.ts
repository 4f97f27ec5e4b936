import { describe, expect, it } from 'vitest';
import { decoderFor, dequantize, referenceMatmul, nmse } from '../../src/quant/index.js';
import { loadFixture, tensorBytes, tensorF32 } from './fixture-helper.js';

const quants = loadFixture('ggml-quants.gguf');
const refs = loadFixture('ggml-quants.ref.gguf');

function mismatches(a: Float32Array, b: Float32Array): { count: number; first: number } {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let count = 0;
  let first = -1;
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}

function decodeTensor(name: string): Float32Array {
  const t = quants.tensors.get(name)!;
  const dec = decoderFor(t.type)!;
  const nBytes = (t.nElements / dec.info.blockSize) * dec.info.typeSize;
  return dequantize(t.type, tensorBytes(quants, t, nBytes), t.nElements);
}

describe('fixture agreement with ggml (bit-exact)', () => {
  it('has the 25 tensors', () => {
    expect(quants.tensors.size).toBe(25);
  });

  for (const t of quants.tensors.values()) {
    it(`${t.name} [${t.dims.join(', ')}] type ${decoderFor(t.type)?.info.name ?? t.type}`, () => {
      expect(decoderFor(t.type), `type ${t.type} unsupported`).toBeDefined();
      const got = decodeTensor(t.name);
      const ref = tensorF32(refs, t.name);
      expect(ref.length).toBe(got.length);
      const { count, first } = mismatches(got, ref);
      const detail =
        count === 0
          ? ''
          : `${count} of ${got.length} elements differ; first at index ${first}: got ${got[first]} (0x${new Uint32Array(got.buffer)[first].toString(16)}), ggml ${ref[first]} (0x${new Uint32Array(ref.buffer)[first].toString(16)})`;
      expect(count, detail).toBe(0);
    });
  }
});

describe('referenceMatmul against ggml fixture y.<tensor>', () => {
  for (const t of quants.tensors.values()) {
    if (t.dims.length !== 2) continue;
    const [rowLen, rows] = t.dims;
    it(`y.${t.name}`, () => {
      const xName = `x.${t.name.split('.').pop()}`;
      const x = tensorF32(refs, xName);
      expect(x.length).toBe(rowLen * 8);
      const W = decodeTensor(t.name);
      const y = referenceMatmul(W, rows, rowLen, x, 8);
      const ref = tensorF32(refs, `y.${t.name}`);
      expect(ref.length).toBe(rows * 8);
      const yf = Float32Array.from(y);
      const e = nmse(yf, ref);
      expect(e).toBeLessThan(1e-12);
    });
  }
});
