import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Node cannot read more than ~2 GiB in one call; stay well under it. */
const MAX_READ_CHUNK = 1 << 30;

/**
 * Random access to a file's bytes by absolute position. Reads are chunked, so any size works, and
 * nothing ever reads the whole file. Positions are doubles: exact up to 2^53 bytes.
 */
export class FileByteSource {
  readonly fd: number;
  readonly size: number;
  private closed = false;

  constructor(readonly path: string) {
    // Non-blocking open: opening a named pipe would otherwise wait for a writer forever; fstat then
    // refuses anything that is not a regular file. (Reads of regular files ignore the flag.)
    this.fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const stat = fstatSync(this.fd);
      if (!stat.isFile()) throw new Error(stat.isDirectory() ? 'a directory, not a file' : 'not a regular file');
      this.size = stat.size;
    } catch (error) {
      closeSync(this.fd);
      throw error;
    }
  }

  /** Fills `into` (all of it) with the bytes at `position`; throws if the file ends first. */
  readInto(into: Uint8Array, position: number): void {
    let done = 0;
    while (done < into.length) {
      const want = Math.min(into.length - done, MAX_READ_CHUNK);
      const got = readSync(this.fd, into, done, want, position + done);
      if (got === 0) throw new RangeError(`unexpected end of file at byte ${position + done}`);
      done += got;
    }
  }

  read(position: number, length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    this.readInto(out, position);
    return out;
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}

/** Bytes already in memory, behind the same interface (tests, generated files). */
export class BufferByteSource {
  constructor(private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  readInto(into: Uint8Array, position: number): void {
    if (position + into.length > this.bytes.length) throw new RangeError(`unexpected end of data at byte ${this.bytes.length}`);
    into.set(this.bytes.subarray(position, position + into.length));
  }
}
