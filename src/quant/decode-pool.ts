// A pool of worker threads for CPU decoding of whole files: one worker per core.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DecodeJob } from './decode-worker.js';

type Pending = { resolve: (data: Float32Array | Uint16Array) => void; reject: (e: Error) => void };

export class DecodePool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: { job: DecodeJob; pending: Pending }[] = [];
  /** The job each busy worker runs (one at a time): a worker that dies fails its own job, not the others'. */
  private readonly running = new Map<Worker, Pending>();

  constructor(readonly size = availableParallelism()) {
    const url = new URL('./decode-worker.js', import.meta.url);
    for (let i = 0; i < size; i++) {
      const w = new Worker(url);
      w.on('message', (msg: { data?: Float32Array | Uint16Array; error?: string }) => {
        if (!this.workers.includes(w)) return; // a worker given up for dead gets no more jobs
        const p = this.running.get(w);
        this.running.delete(w);
        if (msg.error !== undefined) p?.reject(new Error(msg.error));
        else p?.resolve(msg.data!);
        this.release(w);
      });
      w.on('error', (e) => this.lose(w, e));
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /** A worker died (out of memory, say): its job fails; the others go on, and once none is left the
   * queued jobs fail too instead of waiting forever. */
  private lose(w: Worker, error: Error): void {
    this.running.get(w)?.reject(error);
    this.running.delete(w);
    this.workers.splice(this.workers.indexOf(w), 1);
    const idleAt = this.idle.indexOf(w);
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    if (this.workers.length === 0) for (const { pending } of this.queue.splice(0)) pending.reject(error);
    void w.terminate();
  }

  private release(w: Worker): void {
    const next = this.queue.shift();
    if (next) this.start(w, next.job, next.pending);
    else this.idle.push(w);
  }

  private start(w: Worker, job: DecodeJob, pending: Pending): void {
    this.running.set(w, pending);
    w.postMessage(job);
  }

  /** Decodes raw blocks on a worker; resolves with f32 values, or f16 bits when f16 is set. */
  decode(typeId: number, raw: Uint8Array, elements: number, f16 = false, repeat = 1): Promise<Float32Array | Uint16Array> {
    if (this.workers.length === 0) return Promise.reject(new Error('every decode worker has died'));
    return new Promise((resolve, reject) => {
      const job: DecodeJob = { typeId, raw, elements, f16, repeat };
      const w = this.idle.pop();
      if (w) this.start(w, job, { resolve, reject });
      else this.queue.push({ job, pending: { resolve, reject } });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
