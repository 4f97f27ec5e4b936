// Hand-built blocks with known answers. Besides a few literal blocks, each type has a packer that
// writes chosen per-weight quants and per-sub-block scales into the ggml byte layout (the inverse
// direction of the decoder, written from the format description), and the expected value of
// weight i is computed from those logical fields directly.
import { describe, expect, it } from 'vitest';
import { f16ToF32, f32ToF16 } from '../../src/quant/f16.js';
import {
  IQ4NL_VALUES, decodeIQ4_NL, decodeQ4_0, decodeQ4_1, decodeQ5_0, decodeQ5_1, decodeQ8_0,
} from '../../src/quant/legacy.js';
import {
  decodeIQ4_XS, decodeQ2_K, decodeQ3_K, decodeQ4_K, decodeQ5_K, decodeQ6_K,
} from '../../src/quant/kquants.js';
import type { BlockDecoder } from '../../src/quant/types.js';

const fr = Math.fround;

let seed = 1;
const rand = (n: number) => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed % n;
};
const randInts = (count: number, lo: number, hi: number) =>
  Array.from({ length: count }, () => lo + rand(hi - lo + 1));

function putHalf(b: Uint8Array, p: number, h: number) {
  b[p] = h & 0xff;
  b[p + 1] = h >> 8;
}

/** Decodes one block placed at an odd byte offset, into a dst with a guard value after it. */
function decodeOne(decode: BlockDecoder, block: Uint8Array, n: number): Float32Array {
  const raw = new Uint8Array(block.length + 3);
  raw.set(block, 3);
  const dst = new Float32Array(n + 1).fill(12345);
  decode(raw.subarray(3), dst, 1);
  expect(dst[n]).toBe(12345); // nothing written past the block
  return dst.subarray(0, n);
}

function expectBits(got: Float32Array, want: number[]) {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], fr(want[i]))) {
      throw new Error(`element ${i}: got ${got[i]}, want ${fr(want[i])}`);
    }
  }
}

// Scales used throughout: d = 0.5, dmin = 0.25 (exact fp16), plus a subnormal fp16 scale.
const D = 0x3800;
const DMIN = 0x3400;
const D_SUB = 0x0203; // 515 * 2^-24

describe('Q4_0', () => {
  it('d=0.5, nibbles 0..15: (q-8)*0.5, low nibbles first then high nibbles', () => {
    const b = new Uint8Array(18);
    putHalf(b, 0, D);
    for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
    const want = [];
    for (let j = 0; j < 16; j++) want[j] = (j - 8) * 0.5;
    for (let j = 0; j < 16; j++) want[16 + j] = (15 - j - 8) * 0.5;
    expectBits(decodeOne(decodeQ4_0, b, 32), want);
    expect(want.slice(0, 3)).toEqual([-4, -3.5, -3]);
  });

  it('two consecutive blocks with a subnormal scale', () => {
    const b = new Uint8Array(36);
    putHalf(b, 0, D_SUB);
    putHalf(b, 18, 0xc400); // -4
    for (let j = 0; j < 16; j++) { b[2 + j] = 0xf0; b[20 + j] = 0x1f; }
    const dst = new Float32Array(64);
    decodeQ4_0(b, dst, 2);
    const ds = f16ToF32(D_SUB);
    expect(dst[0]).toBe(-8 * ds);
    expect(dst[16]).toBe(7 * ds);
    expect(dst[32]).toBe(-28);
    expect(dst[48]).toBe(28);
  });
});

describe('Q4_1', () => {
  it('y = q*d + m', () => {
    const b = new Uint8Array(20);
    putHalf(b, 0, 0x3400); // 0.25
    putHalf(b, 2, 0xbc00); // -1
    const L = randInts(32, 0, 15);
    for (let j = 0; j < 16; j++) b[4 + j] = L[j] | (L[j + 16] << 4);
    expectBits(decodeOne(decodeQ4_1, b, 32), L.map((q) => q * 0.25 - 1));
  });

  it('rounds once on the add (0.1 as min)', () => {
    const b = new Uint8Array(20);
    const m = f32ToF16(0.1);
    putHalf(b, 0, 0x5bff); // 255.875
    putHalf(b, 2, m);
    for (let j = 0; j < 16; j++) b[4 + j] = 0xf1;
    const out = decodeOne(decodeQ4_1, b, 32);
    expect(out[0]).toBe(fr(255.875 + f16ToF32(m)));
    expect(out[16]).toBe(fr(15 * 255.875 + f16ToF32(m)));
  });
});

function packQ5(L: number[], b: Uint8Array, qhAt: number, qsAt: number) {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    b[qsAt + j] = (L[j] & 15) | ((L[j + 16] & 15) << 4);
    qh |= (L[j] >> 4) << j;
    qh |= (L[j + 16] >> 4) << (j + 16);
  }
  b[qhAt] = qh; b[qhAt + 1] = qh >>> 8; b[qhAt + 2] = qh >>> 16; b[qhAt + 3] = qh >>> 24;
}

describe('Q5_0 / Q5_1', () => {
  it('Q5_0: 5th bits from qh, y = (q-16)*d', () => {
    const b = new Uint8Array(22);
    putHalf(b, 0, D);
    const L = randInts(32, 0, 31);
    L[0] = 31; L[16] = 16; L[31] = 0; L[15] = 15;
    packQ5(L, b, 2, 6);
    expectBits(decodeOne(decodeQ5_0, b, 32), L.map((q) => (q - 16) * 0.5));
  });

  it('Q5_0 literal: qh = 0x80000001 sets the 5th bit of weights 0 and 31', () => {
    const b = new Uint8Array(22);
    putHalf(b, 0, 0x3c00);
    b[2] = 0x01; b[5] = 0x80;
    const out = decodeOne(decodeQ5_0, b, 32);
    expect(out[0]).toBe(0);
    expect(out[1]).toBe(-16);
    expect(out[31]).toBe(0);
    expect(out[30]).toBe(-16);
  });

  it('Q5_1: y = q*d + m', () => {
    const b = new Uint8Array(24);
    putHalf(b, 0, D);
    putHalf(b, 2, 0xc200); // -3
    const L = randInts(32, 0, 31);
    packQ5(L, b, 4, 8);
    expectBits(decodeOne(decodeQ5_1, b, 32), L.map((q) => q * 0.5 - 3));
  });
});

describe('NaN scales in Q4_1 / Q5_1 (hostile files): the bits of ggml on x86 without FMA, in every JIT tier', () => {
  // ggml adds m to the product, and x86 returns the first NaN of two: the product's
  // want: the bits of every weight, or one entry per weight
  const cases: { name: string; decode: BlockDecoder; bytes: number[]; want: number | number[] }[] = [
    { name: 'Q4_1 d qNaN, m NaN', decode: decodeQ4_1, bytes: [0x00, 0x7e, 0x55, 0x7d, ...Array(16).fill(0x11)], want: 0x7fc00000 },
    { name: 'Q4_1 d -qNaN, m NaN', decode: decodeQ4_1, bytes: [0x00, 0xfe, 0x55, 0x7d, ...Array(16).fill(0x11)], want: 0xffc00000 },
    // Inf * 0 makes the CPU's default NaN: negative on x86 (arm64's is positive)
    ...(['x64', 'ia32'].includes(process.arch)
      ? [
        { name: 'Q4_1 d +Inf times 0, m NaN', decode: decodeQ4_1, bytes: [0x00, 0x7c, 0x55, 0x7d, ...Array(16).fill(0)], want: 0xffc00000 },
        // d = +Inf: a weight whose 5-bit x is 0 gives Inf * 0, the default NaN; any other x gives Inf, and
        // Inf + m is m's NaN. So the bits show which x are 0, and that depends on the qh plane: qh =
        // 0x80000001 gives weights 0 and 31 their 5th bit; qs[0..3] = 0x10, 0x11, 0x01, 0x08 give weights
        // 16, 1, 17, 2 and 3 a non-zero nibble (and weights 18 and 19 a zero one).
        {
          name: 'Q5_1 d +Inf, m NaN, 5th bits from qh', decode: decodeQ5_1,
          bytes: [0x00, 0x7c, 0x55, 0x7d, 0x01, 0x00, 0x00, 0x80, 0x10, 0x11, 0x01, 0x08, ...Array(12).fill(0)],
          want: Array.from({ length: 32 }, (_, j) => ([0, 1, 2, 3, 16, 17, 31].includes(j) ? 0x7feaa000 : 0xffc00000)),
        },
      ]
      : []),
    { name: 'Q4_1 d finite, m NaN', decode: decodeQ4_1, bytes: [0x00, 0x3c, 0x55, 0x7d, ...Array(16).fill(0x11)], want: 0x7feaa000 },
    { name: 'Q5_1 d qNaN, m NaN', decode: decodeQ5_1, bytes: [0x00, 0x7e, 0x55, 0x7d, 0, 0, 0, 0, ...Array(16).fill(0x11)], want: 0x7fc00000 },
  ];
  const bitsOf = (c: (typeof cases)[number]) => {
    const out = new Float32Array(32);
    c.decode(Uint8Array.from(c.bytes), out, 1);
    return [...new Uint32Array(out.buffer)];
  };
  it('before and after the decoders are optimized', () => {
    const first = cases.map(bitsOf); // the interpreter's first calls
    const block = new Uint8Array(24).fill(0x31);
    const out = new Float32Array(32 * 64);
    for (let i = 0; i < 20_000; i++) { // warm both decoders up to optimized code
      decodeQ4_1(block, out, 1);
      decodeQ5_1(block, out, 1);
    }
    const wanted = (c: (typeof cases)[number]) => (typeof c.want === 'number' ? Array(32).fill(c.want) : c.want);
    cases.forEach((c, i) => {
      expect(first[i], `${c.name}, first call`).toEqual(wanted(c));
      expect(bitsOf(c), `${c.name}, optimized`).toEqual(wanted(c));
    });
  });
});

describe('Q8_0', () => {
  it('signed bytes times d', () => {
    const b = new Uint8Array(34);
    putHalf(b, 0, D);
    const L = randInts(32, -128, 127);
    L[0] = -128; L[1] = 127; L[2] = -1; L[3] = 0;
    L.forEach((q, j) => { b[2 + j] = q & 0xff; });
    expectBits(decodeOne(decodeQ8_0, b, 32), L.map((q) => q * 0.5));
  });
});

describe('IQ4_NL', () => {
  it('codebook lookup times d, low nibbles then high', () => {
    const b = new Uint8Array(18);
    putHalf(b, 0, D);
    for (let j = 0; j < 16; j++) b[2 + j] = j | ((15 - j) << 4);
    const want = [];
    for (let j = 0; j < 16; j++) want[j] = IQ4NL_VALUES[j] * 0.5;
    for (let j = 0; j < 16; j++) want[16 + j] = IQ4NL_VALUES[15 - j] * 0.5;
    expectBits(decodeOne(decodeIQ4_NL, b, 32), want);
    expect(want[0]).toBe(-63.5);
    expect(want[16]).toBe(56.5);
  });
});

// ---- K-quants ------------------------------------------------------------------------------

/** Packs 8 (scale, min) 6-bit pairs into the 12-byte Q4_K/Q5_K layout. */
function packScaleMin(ls: number[], lm: number[]): Uint8Array {
  const S = new Uint8Array(12);
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      S[j] = ls[j];
      S[j + 4] = lm[j];
    } else {
      S[j + 4] = (ls[j] & 15) | ((lm[j] & 15) << 4);
      S[j - 4] |= (ls[j] >> 4) << 6;
      S[j] |= (lm[j] >> 4) << 6;
    }
  }
  return S;
}

describe('Q2_K', () => {
  for (const d of [D, D_SUB]) {
    it(`scale/min nibbles per 16, 2-bit quants in 4 planes (d=0x${d.toString(16)})`, () => {
      const b = new Uint8Array(84);
      const L = randInts(256, 0, 3);
      const sc = randInts(16, 0, 15);
      const mn = randInts(16, 0, 15);
      for (let j = 0; j < 16; j++) b[j] = sc[j] | (mn[j] << 4);
      for (let h = 0; h < 2; h++) {
        for (let l = 0; l < 32; l++) {
          const i = 128 * h + l;
          b[16 + 32 * h + l] = L[i] | (L[i + 32] << 2) | (L[i + 64] << 4) | (L[i + 96] << 6);
        }
      }
      putHalf(b, 80, d);
      putHalf(b, 82, DMIN);
      const dv = f16ToF32(d);
      const want = L.map((q, i) => fr(dv * sc[i >> 4]) * q - fr(0.25 * mn[i >> 4]));
      expectBits(decodeOne(decodeQ2_K, b, 256), want);
    });
  }
});

describe('Q3_K', () => {
  it('6-bit signed scales in 12 bytes, high bit from hmask', () => {
    const b = new Uint8Array(110);
    const L = randInts(256, -4, 3);
    const sc = randInts(16, -32, 31);
    sc[0] = -32; sc[15] = 31; sc[9] = 0;
    const Lp = L.map((q) => q + 4);
    for (let j = 0; j < 256; j++) {
      if (Lp[j] > 3) {
        b[j % 32] |= 1 << (j >> 5);
        Lp[j] -= 4;
      }
    }
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const i = 128 * h + l;
        b[32 + 32 * h + l] = Lp[i] | (Lp[i + 32] << 2) | (Lp[i + 64] << 4) | (Lp[i + 96] << 6);
      }
    }
    for (let j = 0; j < 16; j++) {
      const l = sc[j] + 32;
      if (j < 8) b[96 + j] |= l & 15;
      else b[96 + j - 8] |= (l & 15) << 4;
      b[96 + 8 + (j % 4)] |= (l >> 4) << (2 * Math.floor(j / 4));
    }
    putHalf(b, 108, D);
    expectBits(decodeOne(decodeQ3_K, b, 256), L.map((q, i) => fr(0.5 * sc[i >> 4]) * q));
  });

  it('literal: all-zero block with d=1 gives -4 * (-32) = 128 everywhere', () => {
    const b = new Uint8Array(110);
    putHalf(b, 108, 0x3c00);
    const out = decodeOne(decodeQ3_K, b, 256);
    expect([...new Set(out)]).toEqual([128]);
  });
});

describe('Q4_K', () => {
  it('literal: hand-packed 12-byte scales, all quants 3', () => {
    const ls = [1, 2, 3, 4, 20, 40, 63, 17];
    const lm = [0, 1, 2, 3, 33, 16, 63, 5];
    const S = packScaleMin(ls, lm);
    expect([...S]).toEqual([0x41, 0x82, 0xc3, 0x44, 0x80, 0x41, 0xc2, 0x03, 0x14, 0x08, 0xff, 0x51]);
    const b = new Uint8Array(144);
    putHalf(b, 0, D);
    putHalf(b, 2, DMIN);
    b.set(S, 4);
    b.fill(0x33, 16);
    const out = decodeOne(decodeQ4_K, b, 256);
    const perSub = [1.5, 2.75, 4, 5.25, 21.75, 56, 78.75, 24.25];
    for (let i = 0; i < 256; i++) expect(out[i]).toBe(perSub[i >> 5]);
  });

  for (const d of [D, D_SUB]) {
    it(`random quants and 6-bit scales/mins (d=0x${d.toString(16)})`, () => {
      const L = randInts(256, 0, 15);
      const ls = randInts(8, 0, 63);
      const lm = randInts(8, 0, 63);
      const b = new Uint8Array(144);
      putHalf(b, 0, d);
      putHalf(b, 2, DMIN);
      b.set(packScaleMin(ls, lm), 4);
      for (let c = 0; c < 4; c++) {
        for (let l = 0; l < 32; l++) b[16 + 32 * c + l] = L[64 * c + l] | (L[64 * c + 32 + l] << 4);
      }
      const dv = f16ToF32(d);
      const want = L.map((q, i) => fr(dv * ls[i >> 5]) * q - fr(0.25 * lm[i >> 5]));
      expectBits(decodeOne(decodeQ4_K, b, 256), want);
    });
  }
});

describe('Q5_K', () => {
  it('random 5-bit quants, high bits in qh planes', () => {
    const L = randInts(256, 0, 31);
    const ls = randInts(8, 0, 63);
    const lm = randInts(8, 0, 63);
    const b = new Uint8Array(176);
    putHalf(b, 0, D);
    putHalf(b, 2, 0xb400); // negative dmin: -0.25
    b.set(packScaleMin(ls, lm), 4);
    for (let c = 0; c < 4; c++) {
      for (let j = 0; j < 32; j++) {
        let l1 = L[64 * c + j];
        let l2 = L[64 * c + 32 + j];
        if (l1 > 15) { l1 -= 16; b[16 + j] |= 1 << (2 * c); }
        if (l2 > 15) { l2 -= 16; b[16 + j] |= 2 << (2 * c); }
        b[48 + 32 * c + j] = l1 | (l2 << 4);
      }
    }
    const want = L.map((q, i) => fr(0.5 * ls[i >> 5]) * q - fr(-0.25 * lm[i >> 5]));
    expectBits(decodeOne(decodeQ5_K, b, 256), want);
  });
});

describe('Q6_K', () => {
  it('literal: d is the last field; signed scales', () => {
    const b = new Uint8Array(210);
    b.fill(1, 192, 208);
    b[192] = 0xfe; // scale -2 for weights 0..15
    putHalf(b, 208, D);
    let out = decodeOne(decodeQ6_K, b, 256);
    expect(out[0]).toBe(32); // 0.5 * -2 * (0 - 32)
    expect(out[15]).toBe(32);
    expect(out[16]).toBe(-16); // 0.5 * 1 * -32
    expect(out[255]).toBe(-16);
    b[0] = 0x0f;
    b[128] = 0x03; // weight 0: q = 15 | 3 << 4 = 63 -> 31
    out = decodeOne(decodeQ6_K, b, 256);
    expect(out[0]).toBe(-31);
  });

  for (const d of [D, D_SUB]) {
    it(`random 6-bit quants and int8 scales (d=0x${d.toString(16)})`, () => {
      const L = randInts(256, -32, 31);
      const sc = randInts(16, -128, 127);
      sc[3] = -128; sc[4] = 127;
      const Lp = L.map((q) => q + 32);
      const b = new Uint8Array(210);
      for (let h = 0; h < 2; h++) {
        for (let l = 0; l < 32; l++) {
          const i = 128 * h + l;
          b[64 * h + l] = (Lp[i] & 15) | ((Lp[i + 64] & 15) << 4);
          b[64 * h + l + 32] = (Lp[i + 32] & 15) | ((Lp[i + 96] & 15) << 4);
          b[128 + 32 * h + l] =
            (Lp[i] >> 4) | ((Lp[i + 32] >> 4) << 2) | ((Lp[i + 64] >> 4) << 4) | ((Lp[i + 96] >> 4) << 6);
        }
      }
      sc.forEach((s, j) => { b[192 + j] = s & 0xff; });
      putHalf(b, 208, d);
      const dv = f16ToF32(d);
      expectBits(decodeOne(decodeQ6_K, b, 256), L.map((q, i) => fr(fr(dv * sc[i >> 4]) * q)));
    });
  }
});

describe('IQ4_XS', () => {
  it('6-bit scales split over scales_l / scales_h, codebook quants', () => {
    const idx = randInts(256, 0, 15);
    const ls = randInts(8, 0, 63);
    ls[0] = 0; ls[7] = 63;
    const b = new Uint8Array(136);
    putHalf(b, 0, D);
    let sh = 0;
    for (let k = 0; k < 8; k++) {
      b[4 + (k >> 1)] |= (ls[k] & 15) << (4 * (k & 1));
      sh |= (ls[k] >> 4) << (2 * k);
      for (let j = 0; j < 16; j++) b[8 + 16 * k + j] = idx[32 * k + j] | (idx[32 * k + 16 + j] << 4);
    }
    b[2] = sh & 0xff;
    b[3] = sh >> 8;
    const want = idx.map((q, i) => fr(0.5 * (ls[i >> 5] - 32)) * IQ4NL_VALUES[q]);
    expectBits(decodeOne(decodeIQ4_XS, b, 256), want);
    expect(want[0]).toBe(-16 * IQ4NL_VALUES[idx[0]]);
  });
});
