import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { createCpuBackend, requireDecoder, type DequantBackend } from '../../dequant.js';
import { InputError, UsageError } from '../../errors.js';
import { withCpuHint } from '../gpu.js';
import { GgufFile } from '../../gguf/file.js';
import { ggmlTypeName } from '../../gguf/ggml-types.js';
import type { GgufTensorInfo } from '../../gguf/types.js';
import { checkOutputs, makeOutputDir, NPY_ITEM_BYTES, NpyWriter, refuseUnwritableDir, type NpyDtype } from '../../npy.js';
import { formatBytes, nameList, printable, printableName, progressBar, shortName, writeJsonDocument } from '../format.js';
import { cleanUpOnSignal } from '../interrupt.js';
import { collect, globMatch, refuseDashOut } from '../options.js';

interface DequantOptions {
  tensor?: string[];
  backend: 'cpu' | 'gpu';
  out: string;
  dtype: NpyDtype;
  force?: boolean;
  json?: boolean;
}

/** Tensors whose names match any of the globs (all tensors when none are given). */
export function selectTensors(file: GgufFile, globs: readonly string[] | undefined): GgufTensorInfo[] {
  if (!globs || globs.length === 0) return [...file.tensors];
  const selected = new Set<GgufTensorInfo>();
  for (const glob of globs) {
    const matches = file.tensors.filter((t) => globMatch(glob, t.name));
    if (matches.length === 0) {
      const other = file.tensors.find((t) => globMatch(glob.toLowerCase(), t.name.toLowerCase()));
      throw new UsageError(`${file.path}: no tensor matches "${glob}"${other ? ` (names are case-sensitive: "${other.name}")` : ''}`);
    }
    for (const t of matches) selected.add(t);
  }
  return file.tensors.filter((t) => selected.has(t));
}

/** Tensor names longer than this (in bytes) are shortened in file names: file systems allow 255. */
const MAX_NAME_BYTES = 200;

/**
 * A file name for a tensor: the name itself when it is a plain file name (letters, digits, '.', '_',
 * '-'); otherwise the name with every other character as '_' and 8 hex digits of its SHA-256 appended,
 * so that "a/b" and "a_b" get different files and a name of any length fits. `salt` > 0 gives the
 * hashed form of another hash, for a name whose file is taken.
 */
export function npyFileName(tensorName: string, salt = 0): string {
  // a leading '.' would make a hidden file (or '..'), a leading '-' a name that reads as an option
  const plain = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(tensorName) && tensorName.length <= MAX_NAME_BYTES;
  if (plain && salt === 0) return `${tensorName}.npy`;
  const hash = createHash('sha256').update(salt === 0 ? tensorName : `${tensorName}#${salt}`).digest('hex').slice(0, 8);
  return `_${tensorName.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, MAX_NAME_BYTES)}-${hash}.npy`.replace(/^_(?=[A-Za-z0-9_])/, '');
}

/** Each tensor's file name, all different even on a case-insensitive file system: a tensor whose file
 * is taken (names that differ only in case, or a name forged to equal another's hashed form) gets the
 * next salted hash. */
function npyFileNames(tensors: readonly GgufTensorInfo[]): Map<GgufTensorInfo, string> {
  const names = new Map<GgufTensorInfo, string>();
  const taken = new Set<string>();
  for (const t of tensors) {
    let name = npyFileName(t.name);
    for (let salt = 1; taken.has(name.toLowerCase()); salt++) name = npyFileName(t.name, salt);
    taken.add(name.toLowerCase());
    names.set(t, name);
  }
  return names;
}

async function loadBackend(name: 'cpu' | 'gpu'): Promise<DequantBackend> {
  if (name === 'cpu') return createCpuBackend();
  // Loaded lazily: only GPU work touches koffi and the native library.
  const { createGpuDequantBackend } = await import('../../gpu/dequant-backend.js');
  return withCpuHint('dequantizes on the CPU instead', () => createGpuDequantBackend());
}

interface DequantRow {
  tensor: string;
  type: string;
  shape: number[];
  path?: string;
  bytes?: number;
  seconds?: number;
  skipped?: string;
}

async function runDequant(path: string, options: DequantOptions): Promise<DequantRow[]> {
  const file = GgufFile.open(path, { keepTruncated: true }); // tensors past the end are skipped, the rest written
  const rows: DequantRow[] = [];
  let backend: DequantBackend | undefined;
  try {
    const tensors = selectTensors(file, options.tensor);
    const usable: GgufTensorInfo[] = [];
    for (const t of tensors) {
      try {
        file.requireSize(t); // its data is in the file (first, as verify says it)
        requireDecoder(file, t);
        usable.push(t);
      } catch (error) {
        if (!(error instanceof InputError)) throw error;
        rows.push({ tensor: t.name, type: ggmlTypeName(t.typeId), shape: [...t.shape], skipped: error.reason });
      }
    }
    const fileNames = npyFileNames(usable);
    // all of them before writing any: a run stopped halfway by the fifth file helps no one
    checkOutputs(usable.map((t) => join(options.out, fileNames.get(t)!)), options.force === true);
    refuseUnwritableDir(options.out); // before the GPU opens; the directory is made after
    backend = await loadBackend(options.backend);
    if (usable.length > 0) makeOutputDir(options.out); // nothing to write: no directory either
    cleanUpOnSignal();
    const total = usable.reduce((s, t) => s + (t.nbytes ?? 0), 0);
    const bar = progressBar(total);
    let done = 0;
    try {
      for (const t of usable) {
        const outPath = join(options.out, fileNames.get(t)!);
        const started = performance.now();
        await NpyWriter.writeFile(outPath, options.dtype, [...t.shape].reverse(), options.force === true, (writer) =>
          backend!.dequantizeTensor(file, t, options.dtype, (chunk) => writer.write(chunk), (n) => {
            done += n;
            bar.update(done, t.name);
          }),
        );
        const row: DequantRow = {
          tensor: t.name,
          type: ggmlTypeName(t.typeId),
          shape: [...t.shape],
          path: outPath,
          bytes: t.elements * NPY_ITEM_BYTES[options.dtype],
          seconds: (performance.now() - started) / 1000,
        };
        rows.push(row);
        if (!options.json) {
          bar.log(`${printableName(t.name)}  ${row.type} [${t.shape.join(', ')}] -> ${outPath} (${formatBytes(row.bytes!)}, ${row.seconds!.toFixed(3)} s)\n`);
        }
      }
    } finally {
      bar.stop();
    }
    const order = new Map(tensors.map((t, i) => [t.name, i]));
    return rows.sort((a, b) => order.get(a.tensor)! - order.get(b.tensor)!); // file order, skipped ones too
  } finally {
    NpyWriter.abortAll();
    backend?.dispose();
    file.close();
  }
}

export function registerDequant(program: Command): void {
  program
    .command('dequant')
    .description('dequantize tensors to .npy files (numpy shape [..., ne1, ne0]) on the GPU or the CPU')
    .argument('<file>', 'GGUF file')
    .option('-t, --tensor <name-or-glob>', 'a tensor to write, repeatable; * and ? match any text / one character (default: all)', collect)
    .addOption(new Option('-b, --backend <backend>', 'where to dequantize').choices(['gpu', 'cpu']).default('gpu'))
    .option('-o, --out <dir>', 'output directory', '.')
    .addOption(new Option('--dtype <dtype>', 'output element type').choices(['f32', 'f16']).default('f32'))
    .option('-f, --force', 'overwrite existing .npy files')
    .option('--json', 'print one JSON summary on stdout instead of a line per tensor')
    .addHelpText(
      'after',
      `
Each tensor goes to <dir>/<tensor name>.npy, written under a temporary name and renamed when complete
(a name with characters other than letters, digits, '.', '_' and '-', one over 200 bytes, or one that
starts with '.' or '-' gets them as '_' and 8 hex digits of its hash: <dir>/a_b-1f3c0a9e.npy for "a/b";
names that would then meet, such as ones differing only in case, get further salted hashes).
Tensors of types without a decoder are listed as skipped, and the exit code is then 3.

Examples:
  gguf-gpu dequant model.gguf --tensor 'blk.0.*' --out /tmp/blk0
  gguf-gpu dequant model.gguf --tensor output.weight --backend cpu --dtype f16`,
    )
    .action(async (path: string, options: DequantOptions) => {
      refuseDashOut(options.out);
      const rows = await runDequant(path, options);
      const skipped = rows.filter((r) => r.skipped);
      if (options.json) writeJsonDocument({ backend: options.backend, dtype: options.dtype, tensors: rows }, path);
      else if (rows.length === 0) process.stderr.write(`${printable(path)} holds no tensors: nothing was written\n`);
      else for (const r of skipped) process.stderr.write(`skipped ${printableName(r.tensor)} (${r.type}): ${r.skipped}\n`);
      if (skipped.length > 0) {
        throw new InputError(path, `${skipped.length} tensor(s) skipped: ${nameList(skipped.map((r) => `${shortName(r.tensor)} (${r.type})`))}`);
      }
    });
}
