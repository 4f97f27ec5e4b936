import { UsageError } from './errors.js';
import { closeSync, existsSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';

export type NpyDtype = 'f32' | 'f16';

const DESCR: Record<NpyDtype, string> = { f32: '<f4', f16: '<f2' };
export const NPY_ITEM_BYTES: Record<NpyDtype, number> = { f32: 4, f16: 2 };

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

/** Parses a .npy file held in memory: f32 or f16, C order, little-endian. */
export function parseNpy(bytes: Uint8Array): { dtype: NpyDtype; shape: number[]; data: Uint8Array } {
  if (bytes.length < 10 || bytes[0] !== 0x93 || Buffer.from(bytes.subarray(1, 6)).toString('latin1') !== 'NUMPY') {
    throw new Error('not a .npy file');
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > bytes.length) throw new Error('truncated .npy header');
  const dict = Buffer.from(bytes.subarray(start, start + headerLength)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(dict)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(dict)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(dict)?.[1];
  const dtype = descr === '<f4' ? 'f32' : descr === '<f2' ? 'f16' : undefined;
  if (!dtype) throw new Error(`unsupported .npy dtype ${descr ?? '?'} (need <f4 or <f2)`);
  if (fortran !== 'False') throw new Error('Fortran-order .npy files are not supported');
  if (shapeText === undefined) throw new Error('.npy header has no shape');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`bad .npy shape (${shapeText})`);
  const dataStart = start + headerLength;
  const nbytes = shape.reduce((a, b) => a * b, 1) * NPY_ITEM_BYTES[dtype];
  if (dataStart + nbytes > bytes.length) throw new Error(`.npy data is truncated: need ${nbytes} bytes`);
  return { dtype, shape, data: bytes.subarray(dataStart, dataStart + nbytes) };
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
    this.fd = openSync(this.tempPath, 'w');
    const header = npyHeader(dtype, shape);
    writeSync(this.fd, header);
    this.position = header.length;
    NpyWriter.open.add(this);
  }

  write(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off, this.position + off);
    this.position += data.length;
  }

  commit(): void {
    closeSync(this.fd);
    renameSync(this.tempPath, this.path);
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
