// CPU benchmark: decoder throughput per type on one core and on all cores, and the float64
// reference matmul's throughput.
import { availableParallelism } from 'node:os';
import { DecodePool } from '../quant/decode-pool.js';
import { decoderFor, referenceMatmul } from '../quant/index.js';
import { randomBlocks, randomNormal, seededRandom } from '../quant/random.js';

export interface CpuBenchRow {
  type: string;
  /** Million weights decoded per second on one core. */
  mwpsOneCore: number;
  /** Million weights per second with one worker per core. */
  mwpsAllCores: number;
  cores: number;
}

function best(run: () => void, reps: number): number {
  let bestMs = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    run();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return bestMs;
}

export async function benchCpuDecoders(typeIds: number[], weights = 1 << 24): Promise<CpuBenchRow[]> {
  const cores = availableParallelism();
  const pool = new DecodePool(cores);
  const rows: CpuBenchRow[] = [];
  try {
    for (const id of typeIds) {
      const { info, decode } = decoderFor(id)!;
      const n = Math.ceil(weights / 256) * 256;
      const raw = randomBlocks(id, n, id);
      const out = new Float32Array(n);
      decode(raw, out, n / info.blockSize); // warm-up: JIT
      const oneMs = best(() => decode(raw, out, n / info.blockSize), 5);
      const repeat = 16;
      // Warm every worker's JIT first (each idle worker takes one of these).
      await Promise.all(Array.from({ length: cores }, () => pool.decode(id, raw.slice(), n, false, 3)));
      const t0 = performance.now();
      await Promise.all(Array.from({ length: cores }, () => pool.decode(id, raw.slice(), n, false, repeat)));
      const allMs = performance.now() - t0;
      rows.push({ type: info.name, mwpsOneCore: n / oneMs / 1e3, mwpsAllCores: (cores * repeat * n) / allMs / 1e3, cores });
    }
  } finally {
    await pool.close();
  }
  return rows;
}

/** GFLOP/s of the float64 reference matmul (2 flops per multiply-add) at a small shape. */
export function benchReferenceMatmul(rows = 256, rowLength = 4096, batch = 8): number {
  const rand = seededRandom(3);
  const w = randomNormal(rand, rows * rowLength);
  const x = randomNormal(rand, batch * rowLength);
  referenceMatmul(w, rows, rowLength, x, batch);
  const ms = best(() => referenceMatmul(w, rows, rowLength, x, batch), 3);
  return (2 * rows * rowLength * batch) / ms / 1e6;
}
