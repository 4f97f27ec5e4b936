import { describe, expect, it } from 'vitest';
import {
  F16_TO_F32_BITS, bf16ToF32, f16ToF32, f32ArrayToF16, f32BitsToF16, f32ToF16,
} from '../../src/quant/f16.js';
import { decodeBF16, decodeF16, decodeF32 } from '../../src/quant/float.js';

const bitsOf = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
const fromBits = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0];

describe('fp16 -> fp32', () => {
  it('decodes normals, subnormals, zeros, infinities', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x3555)).toBe(0.333251953125);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0400)).toBe(2 ** -14); // smallest normal
    expect(f16ToF32(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(f16ToF32(0x8001)).toBe(-(2 ** -24));
    expect(Object.is(f16ToF32(0x0000), 0)).toBe(true);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
  });

  it('NaNs stay NaN, quieted, payload kept in the top mantissa bits', () => {
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f16ToF32(0x7c01)).toBeNaN();
    expect(F16_TO_F32_BITS[0x7e00]).toBe(0x7fc00000);
    expect(F16_TO_F32_BITS[0x7c01]).toBe(0x7fc02000);
    expect(F16_TO_F32_BITS[0xfe00]).toBe(0xffc00000);
    expect(F16_TO_F32_BITS[0x7fff]).toBe(0x7fffe000);
  });

  it('every NaN pattern, both signs, up to 0xffff: sign | quiet bit | payload << 13', () => {
    expect(F16_TO_F32_BITS.length).toBe(65536);
    for (const sign of [0, 0x8000]) {
      for (let man = 1; man < 1024; man++) {
        const h = sign | 0x7c00 | man;
        const want = ((sign << 16) | 0x7fc00000 | (man << 13)) >>> 0;
        if (F16_TO_F32_BITS[h] !== want) throw new Error(`0x${h.toString(16)} -> 0x${F16_TO_F32_BITS[h]!.toString(16)}, want 0x${want.toString(16)}`);
        expect(f16ToF32(h)).toBeNaN();
      }
    }
    expect(F16_TO_F32_BITS[0xffff]).toBe(0xffffe000);
  });

  it('matches the arithmetic definition for every non-NaN pattern', () => {
    for (let h = 0; h < 65536; h++) {
      const e = (h >> 10) & 31;
      const m = h & 1023;
      if (e === 31 && m !== 0) continue;
      const mag = e === 31 ? Infinity : e === 0 ? m * 2 ** -24 : (1024 + m) * 2 ** (e - 25);
      const want = h & 0x8000 ? -mag : mag;
      if (!Object.is(f16ToF32(h), want)) throw new Error(`0x${h.toString(16)}: ${f16ToF32(h)} != ${want}`);
    }
  });

  it('decodeF16 writes the table bits, NaN payloads included, from any byte offset', () => {
    const raw = new Uint8Array([0xaa, 0x00, 0x3c, 0x01, 0x7c, 0x00, 0x80, 0xff, 0x03]);
    const src = raw.subarray(1); // odd byte offset
    const dst = new Float32Array(4);
    decodeF16(src, dst, 4);
    const u = new Uint32Array(dst.buffer);
    expect(dst[0]).toBe(1);
    expect(u[1]).toBe(0x7fc02000);
    expect(Object.is(dst[2], -0)).toBe(true);
    expect(dst[3]).toBe(1023 * 2 ** -24);
  });
});

describe('bf16 -> fp32', () => {
  it('is a 16-bit shift', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc040)).toBe(-3);
    expect(Object.is(bf16ToF32(0x8000), -0)).toBe(true);
    expect(bf16ToF32(0x7f80)).toBe(Infinity);
    expect(bf16ToF32(0xff80)).toBe(-Infinity);
    expect(bf16ToF32(0x0001)).toBe(2 ** -133); // fp32 subnormal, kept
    expect(bf16ToF32(0x7fc0)).toBeNaN();
  });

  it('decodeBF16 keeps NaN payloads bit for bit (signalling too)', () => {
    const src = new Uint8Array([0x81, 0x7f, 0xc1, 0xff, 0x80, 0x3f]);
    const dst = new Float32Array(3);
    decodeBF16(src, dst, 3);
    const u = new Uint32Array(dst.buffer);
    expect(u[0]).toBe(0x7f810000);
    expect(u[1]).toBe(0xffc10000);
    expect(dst[2]).toBe(1);
  });
});

describe('F32', () => {
  it('decodeF32 copies bytes verbatim from an unaligned source', () => {
    const vals = new Uint32Array([0x3f800000, 0x7f800001, 0x80000000, 0x00000001]);
    const raw = new Uint8Array(17);
    raw.set(new Uint8Array(vals.buffer), 1);
    const dst = new Float32Array(4);
    decodeF32(raw.subarray(1), dst, 4);
    expect([...new Uint32Array(dst.buffer)]).toEqual([...vals]);
  });
});

describe('fp32 -> fp16, round to nearest even (CUDA __float2half_rn)', () => {
  it('round-trips every finite fp16 value, both zeros included', () => {
    for (let h = 0; h < 65536; h++) {
      if (((h >> 10) & 31) === 31 && (h & 1023) !== 0) continue;
      if (f32ToF16(f16ToF32(h)) !== h) throw new Error(`0x${h.toString(16)} does not round-trip`);
    }
  });

  it('special values', () => {
    expect(f32ToF16(0)).toBe(0x0000);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(f32ToF16(Infinity)).toBe(0x7c00);
    expect(f32ToF16(-Infinity)).toBe(0xfc00);
    expect(f32ToF16(NaN)).toBe(0x7fff);
    expect(f32BitsToF16(0xffc00000)).toBe(0x7fff); // negative NaN: canonical, sign dropped
    expect(f32BitsToF16(0x7f800001)).toBe(0x7fff); // signalling NaN
  });

  it('overflow: 65504 stays, >= 65520 becomes inf, just below stays 65504', () => {
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65519.99609375)).toBe(0x7bff); // largest f32 below 65520
    expect(f32ToF16(65520)).toBe(0x7c00); // the tie rounds to even = inf
    expect(f32ToF16(-65520)).toBe(0xfc00);
    expect(f32ToF16(1e10)).toBe(0x7c00);
    expect(f32ToF16(3.4028234663852886e38)).toBe(0x7c00);
  });

  it('ties go to even among normals', () => {
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // halfway 1 and 1+2^-10 -> even (1)
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway 0x3c01 / 0x3c02 -> even
    expect(f32ToF16(1 + 2 ** -11 + 2 ** -23)).toBe(0x3c01); // just above the tie
    expect(f32ToF16(2048 + 1)).toBe(0x6800); // 2049 between 2048 and 2050 -> 2048
    expect(f32ToF16(2048 + 3)).toBe(0x6802); // 2051 -> 2052
    expect(f32ToF16(65504 + 8)).toBe(0x7bff); // 65512 is below the 65504/65536 midpoint (65520)
  });

  it('subnormals are rounded, not flushed', () => {
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie between 0 and 2^-24 -> even (0)
    expect(f32ToF16(-(2 ** -25))).toBe(0x8000);
    expect(f32ToF16(2 ** -25 * (1 + 2 ** -23))).toBe(0x0001); // just above the tie
    expect(f32ToF16(1.5 * 2 ** -24)).toBe(0x0002); // tie 1|2 -> 2
    expect(f32ToF16(2.5 * 2 ** -24)).toBe(0x0002); // tie 2|3 -> 2
    expect(f32ToF16(1023.5 * 2 ** -24)).toBe(0x0400); // tie 1023|1024 -> 1024, the smallest normal
    expect(f32ToF16(1022.5 * 2 ** -24)).toBe(0x03fe);
    expect(f32ToF16(2 ** -26)).toBe(0x0000);
    expect(f32ToF16(1e-45)).toBe(0x0000); // f32 subnormal input
    expect(f32ToF16(2 ** -14 * (1 - 2 ** -12))).toBe(0x0400); // rounds up into the normals
  });

  it('everything below 2^-25 in magnitude becomes a zero of its sign, at every float32 exponent', () => {
    // biased exponents 0 (f32 subnormals) to 101 (2^-26 <= |x| < 2^-25): all round to 0 (2^-25 is the tie)
    for (let e = 0; e <= 101; e++) {
      for (const m of [0, 1, 0x400000, 0x7fffff]) {
        const u = (e << 23) | m;
        if (f32BitsToF16(u) !== 0x0000) throw new Error(`0x${u.toString(16)} -> 0x${f32BitsToF16(u).toString(16)}, not +0`);
        if (f32BitsToF16((u | 0x80000000) >>> 0) !== 0x8000) throw new Error(`-0x${u.toString(16)} is not -0`);
      }
    }
    expect(f32ToF16(2 ** -40)).toBe(0x0000);
    expect(f32ToF16(-(2 ** -100))).toBe(0x8000);
  });

  it('is the nearest fp16 (ties to even) for random floats across the whole range', () => {
    let s = 12345;
    const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 200000; i++) {
      // exponents from far below the subnormals to past the overflow point
      const u = ((next() & 0x807fffff) | (((next() % 60) + 95) << 23)) >>> 0;
      const x = fromBits(u);
      const h = f32BitsToF16(u);
      const y = f16ToF32(h);
      const err = Math.abs(y - x);
      if (!Number.isFinite(y)) {
        expect(Math.abs(x)).toBeGreaterThanOrEqual(65520);
        continue;
      }
      // neighbours one fp16 step either way (within the same sign) must not be closer
      for (const nh of [h - 1, h + 1]) {
        if ((nh & 0x7fff) > 0x7bff || nh < 0 || (nh & 0x8000) !== (h & 0x8000)) continue;
        const ne = Math.abs(f16ToF32(nh) - x);
        if (ne < err || (ne === err && (h & 1) === 1)) {
          throw new Error(`x=${x} (0x${u.toString(16)}) -> 0x${h.toString(16)}, neighbour 0x${nh.toString(16)} is better`);
        }
      }
    }
  });

  it('f32ToF16 takes its argument as float32 first', () => {
    expect(f32ToF16(0.1)).toBe(f32BitsToF16(bitsOf(0.1)));
  });

  it('f32ArrayToF16 converts bit-exactly', () => {
    const src = new Float32Array([1, -2, 65520, NaN, 2 ** -25, 0.5]);
    expect([...f32ArrayToF16(src)]).toEqual([0x3c00, 0xc000, 0x7c00, 0x7fff, 0x0000, 0x3800]);
    expect(() => f32ArrayToF16(src, new Uint16Array(2))).toThrowError('f32ArrayToF16: dst holds 2 values, need 6');
  });

  it('f32ArrayToF16 into a longer dst writes only the first src.length values', () => {
    const dst = new Uint16Array(4).fill(0xabcd);
    expect(f32ArrayToF16(Float32Array.of(1, -2), dst)).toBe(dst);
    expect([...dst]).toEqual([0x3c00, 0xc000, 0xabcd, 0xabcd]);
  });
});
