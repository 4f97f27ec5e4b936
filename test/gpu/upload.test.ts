import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GpuError } from '../../src/errors.js';
import type { DeviceBuffer } from '../../src/gpu/device.js';
import { uploadTensors } from '../../src/gpu/loader.js';
import { GgufFile } from '../../src/gguf/file.js';
import { isSupportedType } from '../../src/quant/index.js';
import { QUANTS } from '../cli/helpers.js';
import { openGpuOrReason } from './gpu-helpers.js';

const { gpu, reason } = openGpuOrReason();

/** Pseudo-random bytes (xorshift32), so a misplaced piece cannot match by accident. */
function pattern(bytes: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(bytes / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, bytes);
}

// More than the 128 MiB of pinned staging slots (so every slot is refilled), and sizes and offsets
// that are not multiples of anything.
const BYTES = 150_000_003;
const DST_OFFSET = 5;
const FILE_OFFSET = 7;

const dir = mkdtempSync(join(tmpdir(), 'gguf-gpu-upload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!gpu)(`GPU uploads${reason ? ` (${reason})` : ''}`, () => {
  /** Poisons a device buffer (on the compute stream), runs `upload` into it at DST_OFFSET, reads it all back. */
  function roundTrip(upload: (buf: DeviceBuffer) => void): Uint8Array {
    const g = gpu!;
    const buf = g.alloc(DST_OFFSET + BYTES);
    try {
      g.memsetPoison(buf); // queued, not waited for: the upload must land after it
      upload(buf);
      const back = new Uint8Array(DST_OFFSET + BYTES);
      g.download(buf, back);
      return back;
    } finally {
      buf.dispose();
    }
  }

  it('uploads host memory through every staging slot, in order, after work queued on the same memory', () => {
    const src = pattern(BYTES, 1);
    const back = roundTrip((buf) => gpu!.upload(buf, src, DST_OFFSET));
    expect([...back.subarray(0, DST_OFFSET)]).toEqual(Array(DST_OFFSET).fill(0xff));
    expect(Buffer.compare(back.subarray(DST_OFFSET), src)).toBe(0);
  });

  it('uploads from a file at an offset, and reports a short file or a bad descriptor, then works on', () => {
    const g = gpu!;
    const data = pattern(FILE_OFFSET + BYTES, 2);
    const path = join(dir, 'data.bin');
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    try {
      const back = roundTrip((buf) => g.uploadFile(buf, fd, FILE_OFFSET, BYTES, DST_OFFSET));
      expect(Buffer.compare(back.subarray(DST_OFFSET), data.subarray(FILE_OFFSET))).toBe(0);

      const buf = g.alloc(BYTES);
      try {
        expect(() => g.uploadFile(buf, fd, FILE_OFFSET + 1, BYTES)).toThrow(GpuError);
        expect(() => g.uploadFile(buf, fd, FILE_OFFSET + 1, BYTES)).toThrow(
          new RegExp(`hit end of file: the file is shorter than offset ${FILE_OFFSET + 1} \\+ ${BYTES} bytes`),
        );
      } finally {
        buf.dispose();
      }
    } finally {
      closeSync(fd);
    }
    const buf = g.alloc(4 << 20);
    try {
      // a descriptor far above any open one: pread fails with EBADF in every reading thread
      expect(() => g.uploadFile(buf, 999_999, 0, 4 << 20)).toThrow(/pread\(fd 999999, .*\(errno \d+\)/);
      // and the next upload works
      const src = pattern(4 << 20, 3);
      g.upload(buf, src);
      const back = new Uint8Array(4 << 20);
      g.download(buf, back);
      expect(Buffer.compare(back, src)).toBe(0);
    } finally {
      buf.dispose();
    }
  });
  it('uploads a file\'s tensors into one arena, each at its planned offset, byte for byte', () => {
    const file = GgufFile.open(QUANTS);
    try {
      const tensors = file.tensors.filter((t) => isSupportedType(t.typeId));
      const report = uploadTensors(gpu!, file, tensors);
      try {
        expect(report.tensors.map((p) => p.tensor)).toEqual(tensors);
        const all = new Uint8Array(report.arena.bytes);
        gpu!.download(report.arena, all);
        for (const { tensor, offset } of report.tensors) {
          const want = file.readTensorBytes(tensor);
          expect(Buffer.from(all.subarray(offset, offset + want.length)).equals(Buffer.from(want)), tensor.name).toBe(true);
        }
      } finally {
        report.arena.dispose();
      }
    } finally {
      file.close();
    }
  });
});
