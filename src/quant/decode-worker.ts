// Worker thread body: decodes raw blocks sent by DecodePool and sends the floats back (transferred).
import { parentPort } from 'node:worker_threads';
import { decoderFor, f32ArrayToF16 } from './index.js';

export interface DecodeJob {
  typeId: number;
  raw: Uint8Array;
  elements: number;
  f16: boolean;
  /** Decode this many times (benchmarks); the output of the last pass is returned. */
  repeat?: number;
}

parentPort?.on('message', (job: DecodeJob) => {
  try {
    const { info, decode } = decoderFor(job.typeId)!;
    const out = new Float32Array(job.elements);
    for (let r = 0; r < (job.repeat ?? 1); r++) decode(job.raw, out, job.elements / info.blockSize);
    const result = job.f16 ? f32ArrayToF16(out) : out;
    parentPort!.postMessage({ data: result }, [result.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message });
  }
});
