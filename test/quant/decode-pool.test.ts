import { describe, expect, it } from 'vitest';
// dist/, which global-setup builds: the pool's workers load decode-worker.js beside it, and under
// vitest src/ has only the .ts
import { DecodePool } from '../../dist/quant/decode-pool.js';
import { randomBlocks } from '../../src/quant/random.js';

describe('DecodePool when a worker dies', () => {
  it("fails only that worker's job, goes on with the others, and fails queued jobs once none is left", async () => {
    const pool = new DecodePool(2);
    try {
      const raw = randomBlocks(2, 32 * 1024, 1); // Q4_0
      const workers = (pool as unknown as { workers: import('node:worker_threads').Worker[] }).workers;
      const [a, b] = [workers[0]!, workers[1]!];
      const first = pool.decode(2, raw, 32 * 1024); // on b: the idle list is popped from its end
      const second = pool.decode(2, raw, 32 * 1024); // on a
      const queued = pool.decode(2, raw, 32 * 1024);
      const running = (pool as unknown as { running: Map<unknown, unknown> }).running;
      expect([running.has(a), running.has(b)]).toEqual([true, true]);
      b.emit('error', new Error('worker b died')); // the worker that holds the first job
      const results = await Promise.allSettled([first, second, queued]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
      expect(await pool.decode(2, raw, 32 * 1024)).toHaveLength(32 * 1024);
      const last = (pool as unknown as { workers: import('node:worker_threads').Worker[] }).workers[0]!;
      const busy = pool.decode(2, raw, 32 * 1024);
      const waiting = pool.decode(2, raw, 32 * 1024);
      last.emit('error', new Error('the last worker died'));
      expect((await Promise.allSettled([busy, waiting])).map((r) => r.status)).toEqual(['rejected', 'rejected']);
      await expect(pool.decode(2, raw, 32 * 1024)).rejects.toThrow(/every decode worker has died/);
    } finally {
      await pool.close();
    }
  });
});
