#!/usr/bin/env node
// Single-core throughput of the CPU reference dequantizers, in M weights/s.
// Run `npm run build` first; this imports the compiled library from dist/.
//   node scripts/bench-cpu.js [--weights 16777216] [--reps 5] [--type Q4_K]
import { performance } from 'node:perf_hooks';
import { SUPPORTED_TYPE_IDS, decoderFor, f32ToF16 } from '../dist/quant/index.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};
const targetWeights = Number(opt('weights', 16 * 1024 * 1024));
const reps = Number(opt('reps', 5));
const only = opt('type', undefined);

// Byte offsets of the fp16 scale fields inside one block, per type name.
const HALF_FIELDS = {
  Q4_0: [0], Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q8_0: [0], IQ4_NL: [0],
  Q2_K: [80, 82], Q3_K: [108], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208], IQ4_XS: [0],
};

// Small deterministic PRNG (xorshift32) so runs are comparable.
let seed = 0x9e3779b9;
const rnd = () => {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
};

function makeBlocks(info, nBlocks) {
  const buf = new Uint8Array(nBlocks * info.typeSize);
  for (let i = 0; i < buf.length; i += 4) {
    const r = rnd();
    buf[i] = r; buf[i + 1] = r >>> 8; buf[i + 2] = r >>> 16; buf[i + 3] = r >>> 24;
  }
  const putHalf = (p, v) => { const h = f32ToF16(v); buf[p] = h & 0xff; buf[p + 1] = h >>> 8; };
  const gauss = () => ((rnd() / 2 ** 32) + (rnd() / 2 ** 32) + (rnd() / 2 ** 32) - 1.5) * 0.02;
  if (info.name === 'F32') {
    const f = new Float32Array(buf.buffer);
    for (let i = 0; i < f.length; i++) f[i] = gauss();
  } else if (info.name === 'F16') {
    for (let p = 0; p < buf.length; p += 2) putHalf(p, gauss());
  } else if (info.name === 'BF16') {
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    for (let p = 0; p < buf.length; p += 2) { f[0] = gauss(); buf[p] = u[0] >>> 16; buf[p + 1] = u[0] >>> 24; }
  } else {
    const fields = HALF_FIELDS[info.name];
    for (let b = 0; b < nBlocks; b++) {
      for (const off of fields) putHalf(b * info.typeSize + off, 1e-4 + (rnd() / 2 ** 32) * 1e-3);
    }
  }
  return buf;
}

const rows = [];
for (const id of SUPPORTED_TYPE_IDS) {
  const { info, decode } = decoderFor(id);
  if (only && info.name.toUpperCase() !== only.toUpperCase()) continue;
  const nBlocks = Math.max(1, Math.floor(targetWeights / info.blockSize));
  const nWeights = nBlocks * info.blockSize;
  // an odd byte offset, as a tensor inside a mapped file may have
  const backing = makeBlocks(info, nBlocks + 1);
  const src = new Uint8Array(backing.buffer, 1, nBlocks * info.typeSize);
  src.set(backing.subarray(0, nBlocks * info.typeSize));
  const dst = new Float32Array(nWeights);
  decode(src.subarray(0, 64 * info.typeSize), dst, 64); // warm-up
  decode(src, dst, nBlocks);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    decode(src, dst, nBlocks);
    best = Math.min(best, performance.now() - t0);
  }
  const mw = nWeights / best / 1e3;
  rows.push({ type: info.name, weights: nWeights, ms: best, mw, inMBs: (src.length / best) / 1e3 });
}

const pad = (s, n) => String(s).padStart(n);
console.log(`CPU dequantize, single core, best of ${reps}, Node ${process.version}`);
console.log(`${'type'.padEnd(8)}${pad('weights', 11)}${pad('ms', 9)}${pad('M w/s', 9)}${pad('in MB/s', 9)}`);
for (const r of rows) {
  console.log(`${r.type.padEnd(8)}${pad(r.weights, 11)}${pad(r.ms.toFixed(1), 9)}${pad(r.mw.toFixed(0), 9)}${pad(r.inMBs.toFixed(0), 9)}`);
}
