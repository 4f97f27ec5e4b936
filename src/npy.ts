import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsReason, InputError, OutputError, UsageError } from './errors.js';

export type NpyDtype = 'f32' | 'f16';

const DESCR: Record<NpyDtype, string> = { f32: '<f4', f16: '<f2' };
export const NPY_ITEM_BYTES: Record<NpyDtype, number> = { f32: 4, f16: 2 };
const MAX_WRITE_CHUNK = 1 << 30;

/** The .npy v1.0 header for a C-order little-endian array of `shape` (numpy order). */
export function npyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': (${dims}), }`;
  // magic(6) + version(2) + length(2) + dict + '\n' must be a multiple of 64.
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + dict.length);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, dict.length, true);
  out.set(Buffer.from(dict, 'latin1'), 10);
  return out;
}

/** Parses a .npy file held in memory: f32 or f16, C order, little-endian. `file` names it in errors. */
export function parseNpy(bytes: Uint8Array, file?: string): { dtype: NpyDtype; shape: number[]; data: Uint8Array } {
  const fail: (reason: string) => never = (reason) => {
    throw new InputError(file, reason);
  };
  if (bytes.length < 10 || bytes[0] !== 0x93 || Buffer.from(bytes.subarray(1, 6)).toString('latin1') !== 'NUMPY') {
    fail('not a .npy file');
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > bytes.length) fail('truncated .npy header');
  const dict = Buffer.from(bytes.subarray(start, start + headerLength)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(dict)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(dict)?.[1];
  const dtype = descr === '<f4' ? 'f32' : descr === '<f2' ? 'f16' : undefined;
  if (!dtype) fail(`unsupported .npy dtype ${descr ?? '?'} (need <f4 or <f2)`);
  if (fortran !== 'False') fail('Fortran-order .npy files are not supported');
  if (shapeText === undefined) fail('.npy header has no shape');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`bad .npy shape (${shapeText})`);
  const dataStart = start + headerLength;
  const nbytes = shape.reduce((a, b) => a * b, 1) * NPY_ITEM_BYTES[dtype];
  if (dataStart + nbytes > bytes.length) fail(`.npy data is truncated: need ${nbytes} bytes`);
  return { dtype, shape, data: bytes.subarray(dataStart, dataStart + nbytes) };
}

/**
 * `mkdir -p` for an output directory, errors as OutputError. Not Node's recursive mkdir: it loops
 * forever where a parent exists but refuses new entries with ENOENT (/proc/x).
 */
export function makeOutputDir(dir: string): void {
  const make = (d: string): void => {
    try {
      mkdirSync(d);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(d).isDirectory()) return;
      const parent = dirname(d);
      if (code !== 'ENOENT' || parent === d) throw error;
      make(parent);
    }
    mkdirSync(d); // the parent exists now: a second failure is final
  };
  try {
    make(dir);
  } catch (error) {
    throw new OutputError(dir, fsReason(error));
  }
}

/**
 * Writes a .npy file safely: data goes to a temporary name beside the target and is renamed into
 * place only by commit(), so an interrupted or failed write never leaves a partial file.
 */
export class NpyWriter {
  private readonly tempPath: string;
  private readonly fd: number;
  private position: number;
  private done = false;
  private static open = new Set<NpyWriter>();

  constructor(
    readonly path: string,
    dtype: NpyDtype,
    shape: readonly number[],
    overwrite: boolean,
  ) {
    if (!overwrite && existsSync(path)) throw new UsageError(`${path} exists (use --force to overwrite)`);
    this.tempPath = `${path}.partial-${process.pid}`;
    this.fd = this.io(() => openSync(this.tempPath, 'w'));
    NpyWriter.open.add(this);
    this.position = 0;
    try {
      this.write(npyHeader(dtype, shape));
    } catch (error) {
      this.abort(); // the caller has no writer to abort yet
      throw error;
    }
  }

  /** fs errors (no such directory, no permission, a full disk) as OutputError naming the target. */
  private io<T>(op: () => T): T {
    try {
      return op();
    } catch (error) {
      throw new OutputError(this.path, fsReason(error));
    }
  }

  write(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) {
      // writeSync takes under 2 GiB a call
      const n = Math.min(data.length - off, MAX_WRITE_CHUNK);
      off += this.io(() => writeSync(this.fd, data, off, n, this.position + off));
    }
    this.position += data.length;
  }

  commit(): void {
    this.io(() => {
      closeSync(this.fd);
      renameSync(this.tempPath, this.path);
    });
    this.done = true;
    NpyWriter.open.delete(this);
  }

  /** Removes the temporary file; safe to call more than once. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    NpyWriter.open.delete(this);
    try {
      closeSync(this.fd);
    } catch {}
    try {
      unlinkSync(this.tempPath);
    } catch {}
  }

  /** Aborts every writer still open (for signal handlers). */
  static abortAll(): void {
    for (const w of [...NpyWriter.open]) w.abort();
  }
}
