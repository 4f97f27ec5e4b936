import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, lstatSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
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

/**
 * The header dict of a .npy file, read as numpy writes it and no laxer: exactly the keys descr,
 * fortran_order and shape, once each; a quoted string, True/False and a tuple of plain integers.
 * Undefined when it is anything else (a regex that took the first "'shape':" anywhere would read a
 * different array than numpy does).
 */
function parseNpyDict(text: string): { descr: string; fortran: boolean; shape: number[] } | undefined {
  const body = /^\{(.*)\}\s*$/s.exec(text.trimEnd())?.[1];
  if (body === undefined) return undefined;
  const entry = /\s*'(\w+)'\s*:\s*(?:'([^']*)'|(True|False)|\(([\d\s,]*)\))\s*(,|$)/y;
  const found = new Map<string, RegExpExecArray>();
  while (entry.lastIndex < body.length && !/^\s*$/.test(body.slice(entry.lastIndex))) {
    const m = entry.exec(body);
    if (!m || found.has(m[1]!)) return undefined;
    found.set(m[1]!, m);
    if (m[5] === '') break;
  }
  const [descr, fortran, shape] = [found.get('descr')?.[2], found.get('fortran_order')?.[3], found.get('shape')?.[4]];
  if (found.size !== 3 || descr === undefined || fortran === undefined || shape === undefined) return undefined;
  const dims = shape.split(',').map((d) => d.trim());
  if (dims[dims.length - 1] === '') dims.pop(); // (5,)
  if (dims.some((d) => !/^\d+$/.test(d))) return undefined;
  return { descr, fortran: fortran === 'True', shape: dims.map(Number) };
}

/** Parses a .npy file held in memory: f32 or f16, C order, little-endian. `file` names it in errors. */
export function parseNpy(bytes: Uint8Array, file?: string): { dtype: NpyDtype; shape: number[]; data: Uint8Array } {
  const fail: (reason: string) => never = (reason) => {
    throw new InputError(file, reason);
  };
  if (bytes.length < 10 || bytes[0] !== 0x93 || Buffer.from(bytes.subarray(1, 6)).toString('latin1') !== 'NUMPY') {
    fail('not a .npy file');
  }
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(`.npy format version ${major} is not one numpy writes (1 to 3)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start) fail('truncated .npy header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (start + headerLength > bytes.length) fail('truncated .npy header');
  const dict = parseNpyDict(Buffer.from(bytes.subarray(start, start + headerLength)).toString(major === 3 ? 'utf8' : 'latin1'));
  if (!dict) fail('the .npy header is not a dict of descr, fortran_order and shape as numpy writes it');
  const dtype = dict.descr === '<f4' ? 'f32' : dict.descr === '<f2' ? 'f16' : undefined;
  if (!dtype) fail(`unsupported .npy dtype ${dict.descr} (need <f4 or <f2)`);
  if (dict.fortran) fail('Fortran-order .npy files are not supported');
  if (dict.shape.some((d) => !Number.isSafeInteger(d))) fail(`bad .npy shape (${dict.shape.join(', ')})`);
  const dataStart = start + headerLength;
  const nbytes = dict.shape.reduce((a, b) => a * b, 1) * NPY_ITEM_BYTES[dtype];
  if (dataStart + nbytes > bytes.length) fail(`.npy data is truncated: need ${nbytes} bytes`);
  if (dataStart + nbytes < bytes.length) fail(`${bytes.length - dataStart - nbytes} bytes follow the array's ${nbytes}`);
  return { dtype, shape: dict.shape, data: bytes.subarray(dataStart, dataStart + nbytes) };
}

/**
 * Checks output paths before any work, as NpyWriter will write them (a new file beside each, renamed over
 * it): something there that is not a regular file (a directory, a device such as /dev/null, a FIFO) is an
 * OutputError, since the rename would replace it; an existing file (a dangling link counts) is a UsageError
 * unless `overwrite`, naming the first three.
 */
export function checkOutputs(paths: readonly string[], overwrite: boolean): void {
  const existing: string[] = [];
  for (const path of paths) {
    if (/[\\/]$/.test(path)) throw new OutputError(path, 'names a directory (it ends in /): outputs are files');
    if (!pathExists(path)) continue;
    let target: Stats | undefined; // through a link; undefined: it dangles, loops or cannot be followed (the rename replaces the link)
    try {
      target = statSync(path, { throwIfNoEntry: false });
    } catch {
      target = undefined;
    }
    if (target?.isDirectory()) throw new OutputError(path, 'is a directory');
    if (target && !target.isFile()) throw new OutputError(path, 'not a regular file (a device, FIFO or socket): outputs are written as new files');
    existing.push(path);
  }
  if (overwrite || existing.length === 0) return;
  const shown = existing.slice(0, 3).join(', ') + (existing.length > 3 ? ` and ${existing.length - 3} more` : '');
  throw new UsageError(`${shown} exist${existing.length === 1 ? 's' : ''} (use --force to overwrite)`);
}

/** An OutputError now, rather than after the work, when `path` could not be written: its directory is
 * missing or not writable, or it is a directory or a file that cannot be written. */
export function refuseUnwritable(path: string): void {
  try {
    const existing = statSync(path, { throwIfNoEntry: false });
    if (existing?.isDirectory()) throw Object.assign(new Error('EISDIR: illegal operation on a directory'), { code: 'EISDIR' });
    accessSync(existing ? path : dirname(path), constants.W_OK);
  } catch (error) {
    throw new OutputError(path, fsReason(error));
  }
}

/** An OutputError now when NpyWriter could not write `path`: it makes a new file in the path's directory and
 * renames it over the path, so the directory must exist and take new files (the file's own mode does not matter). */
export function refuseUnwritableOutput(path: string): void {
  try {
    accessSync(dirname(path), constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new OutputError(path, fsReason(error));
  }
}

/** An OutputError now when the output directory `dir` could not be made or written: its nearest existing
 * ancestor (itself, when it exists) must be a writable directory. Creates nothing. */
export function refuseUnwritableDir(dir: string): void {
  let at = resolve(dir);
  while (!pathExists(at) && dirname(at) !== at) at = dirname(at);
  try {
    if (!statSync(at).isDirectory()) throw Object.assign(new Error('ENOTDIR: not a directory'), { code: 'ENOTDIR' });
    accessSync(at, constants.W_OK);
  } catch (error) {
    throw new OutputError(at === resolve(dir) ? dir : at, fsReason(error));
  }
}

/** Whether anything, a dangling symbolic link included, is at `path` (existsSync follows links). */
function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
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
      if (code === 'EEXIST') {
        if (statSync(d).isDirectory()) return;
        throw Object.assign(new Error('ENOTDIR: not a directory'), { code: 'ENOTDIR' }); // --out names a directory
      }
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
    checkOutputs([path], overwrite);
    // a fresh name, created exclusively: a link planted at a predictable name could redirect the write;
    // the target's name shortened in it, so that a name near the 255-byte limit still has room
    const name = Buffer.from(basename(path));
    let cut = Math.min(name.length, 160);
    while (cut > 0 && cut < name.length && (name[cut]! & 0xc0) === 0x80) cut--; // not inside a UTF-8 character
    const stem = name.subarray(0, cut).toString();
    this.tempPath = join(dirname(path), `${stem}.partial-${process.pid}-${randomBytes(6).toString('hex')}`);
    this.fd = this.io(() => openSync(this.tempPath, 'wx'));
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

  /** Writes the .npy file at `path`: `fill` writes the data, then the file is renamed into place; if
   * anything throws, the temporary file is removed and `path` is as it was. */
  static async writeFile(path: string, dtype: NpyDtype, shape: readonly number[], overwrite: boolean, fill: (writer: NpyWriter) => void | Promise<void>): Promise<void> {
    const writer = new NpyWriter(path, dtype, shape, overwrite);
    try {
      await fill(writer);
      writer.commit();
    } catch (error) {
      writer.abort();
      throw error;
    }
  }

  /** Aborts every writer still open (for signal handlers). */
  static abortAll(): void {
    for (const w of [...NpyWriter.open]) w.abort();
  }
}
