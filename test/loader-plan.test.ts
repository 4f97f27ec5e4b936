// The loader's arena plan (src/gpu/loader.ts planArena), checked without a GPU: copying each planned
// file range to its arena offset must put every tensor's bytes where the plan says.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GgufFile } from '../src/gguf/file.js';
import { writeGguf } from '../src/gguf/writer.js';
import { GpuError } from '../src/errors.js';
import type { Gpu } from '../src/gpu/device.js';
import { planArena, uploadTensor } from '../src/gpu/loader.js';

const dir = mkdtempSync(join(tmpdir(), 'gguf-gpu-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileWith(sizes: number[], alignment = 32): GgufFile {
  // F32 vectors of the given element counts, data i + 1 so that every tensor's bytes differ
  const tensors = sizes.map((n, i) => {
    const data = new Float32Array(n).map((_, k) => (i + 1) * 1000 + k);
    return { name: `t${i}`, typeId: 0, shape: [n], data: new Uint8Array(data.buffer) };
  });
  const path = join(dir, `f${sizes.join('-')}-${alignment}.gguf`);
  writeFileSync(path, writeGguf({ tensors, alignment }));
  return GgufFile.open(path);
}

/** Copies each planned file range to its arena offset, then finds every tensor's bytes where the plan says. */
function expectTensorsInPlace(file: GgufFile, plan: ReturnType<typeof planArena>): void {
  const arena = new Uint8Array(plan.bytes);
  for (const r of plan.ranges) arena.set(file.source.read(r.fileOffset, r.bytes), r.arenaOffset);
  for (const { tensor, offset } of plan.placed) {
    const want = file.readTensorBytes(tensor);
    expect(Buffer.from(arena.subarray(offset, offset + want.length)).equals(Buffer.from(want)), tensor.name).toBe(true);
  }
}

describe('planArena', () => {
  it('puts every tensor at its planned offset, neighbours in one range with their padding', () => {
    const file = fileWith([3, 100, 7, 1, 64]);
    try {
      const plan = planArena(file, file.tensors);
      expect(plan.ranges).toHaveLength(1);
      expectTensorsInPlace(file, plan);
    } finally {
      file.close();
    }
  });

  it("keeps the caller's order, skips tensors left out, and splits ranges at big gaps", () => {
    const file = fileWith([5, 40000, 9, 30000, 11]); // the 160 KB and 120 KB tensors are left out below
    try {
      const wanted = [file.tensors[4]!, file.tensors[0]!, file.tensors[2]!];
      const plan = planArena(file, wanted);
      expect(plan.placed.map((p) => p.tensor.name)).toEqual(['t4', 't0', 't2']);
      expect(plan.ranges).toHaveLength(3); // the left-out tensors are gaps over 64 KiB
      expect(plan.ranges.map((r) => r.arenaOffset)).toEqual([0, 256, 512]); // each range 256-aligned
      expect(plan.bytes).toBe(512 + 4 * 11);
      expectTensorsInPlace(file, plan);
    } finally {
      file.close();
    }
  });

  it('places a tensor asked for twice at both positions of the caller\'s list', () => {
    const file = fileWith([3, 5]);
    try {
      const [a, b] = file.tensors as [typeof file.tensors[0], typeof file.tensors[0]];
      const plan = planArena(file, [a!, b!, a!]);
      expect(plan.placed.map((p) => p.tensor.name)).toEqual(['t0', 't1', 't0']);
      expectTensorsInPlace(file, plan);
    } finally {
      file.close();
    }
  });

  it('plans nothing for no tensors', () => {
    const file = fileWith([4]);
    try {
      expect(planArena(file, [])).toEqual({ ranges: [], placed: [], bytes: 0 });
    } finally {
      file.close();
    }
  });
});

describe('uploadTensor when the file shrinks under it', () => {
  it('says the file shrank (an InputError naming it), not only that the GPU upload failed', () => {
    const file = fileWith([1000, 2000]);
    try {
      // a stub GPU whose file upload fails as the native pread past the end would
      const gpu = {
        alloc: () => ({ dispose() {} }),
        uploadFile: () => {
          throw new GpuError('uploading file data to the GPU: short read');
        },
      } as unknown as Gpu;
      truncateSync(file.path, file.tensors[1]!.offset + 100);
      expect(() => uploadTensor(gpu, file, file.tensors[1]!)).toThrow(/f1000-2000-32\.gguf: the file shrank to \d+ bytes while it was read/);
      expect(() => uploadTensor(gpu, file, file.tensors[0]!)).toThrow(GpuError); // its bytes are all there
    } finally {
      file.close();
    }
  });
});
