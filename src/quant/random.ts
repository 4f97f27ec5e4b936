// Seeded random tensors in raw ggml block form, for tests, verify's built-in suite and bench.
import { ggmlTypeById } from '../gguf/ggml-types.js';

/** mulberry32: small, fast, good enough for test data; the same seed gives the same bytes. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box-Muller) from a uniform source. */
export function randomNormal(rand: () => number, n: number, sigma = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = sigma * Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * Byte offsets of the fp16 scale fields inside one block, per type id. Random bytes there would
 * often be NaN or inf; these get finite values of realistic size instead.
 */
const SCALE_FIELDS: Record<number, readonly number[]> = {
  2: [0], // Q4_0: d
  3: [0, 2], // Q4_1: d, m
  6: [0], // Q5_0
  7: [0, 2], // Q5_1
  8: [0], // Q8_0
  10: [80, 82], // Q2_K: d, dmin after scales[16] and qs[64]
  11: [108], // Q3_K: d last
  12: [0, 2], // Q4_K
  13: [0, 2], // Q5_K
  14: [208], // Q6_K: d last
  20: [0], // IQ4_NL
  23: [0], // IQ4_XS
};

/** A finite fp16 bit pattern with magnitude between 2^-14 * 2^-6 (subnormal) and 2^-3. */
function randomScaleBits(rand: () => number): number {
  const exp = Math.floor(rand() * 12); // 0 (subnormal) .. 11
  const man = Math.floor(rand() * 1024);
  const sign = rand() < 0.5 ? 0x8000 : 0;
  return sign | (exp << 10) | man;
}

/** Finite random element bits for the float types (no NaN or inf). */
function fillFloatType(typeId: number, bytes: Uint8Array, rand: () => number): boolean {
  const n = bytes.length;
  if (typeId === 0) {
    const f = new Float32Array(bytes.buffer, bytes.byteOffset, n / 4);
    f.set(randomNormal(rand, f.length, 0.05));
    return true;
  }
  if (typeId === 1 || typeId === 30) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i += 2) {
      const exp = typeId === 1 ? 1 + Math.floor(rand() * 29) : 100 + Math.floor(rand() * 40);
      const bits = typeId === 1 ? ((rand() < 0.5 ? 0x8000 : 0) | (exp << 10) | Math.floor(rand() * 1024)) : ((rand() < 0.5 ? 0x8000 : 0) | (exp << 7) | Math.floor(rand() * 128));
      view.setUint16(i, bits, true);
    }
    return true;
  }
  return false;
}

/** Random raw blocks of a type: random quants, finite scales. */
export function randomBlocks(typeId: number, elements: number, seed: number): Uint8Array {
  const info = ggmlTypeById(typeId);
  if (!info) throw new Error(`unknown type ${typeId}`);
  if (elements % info.blockSize !== 0) throw new Error(`${elements} is not a multiple of ${info.blockSize}`);
  const nBlocks = elements / info.blockSize;
  const bytes = new Uint8Array(nBlocks * info.typeSize);
  const rand = seededRandom(seed);
  if (fillFloatType(typeId, bytes, rand)) return bytes;
  const words = new Uint32Array(bytes.buffer, 0, bytes.length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = Math.floor(rand() * 4294967296);
  for (let i = words.length * 4; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  const fields = SCALE_FIELDS[typeId] ?? [];
  for (let b = 0; b < nBlocks; b++) {
    const base = b * info.typeSize;
    for (const off of fields) {
      const bits = randomScaleBits(rand);
      bytes[base + off] = bits & 0xff;
      bytes[base + off + 1] = bits >>> 8;
    }
  }
  return bytes;
}
