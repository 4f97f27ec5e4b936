import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import chalk from 'chalk';
import { Option, type Command } from 'commander';
import { fsReason, InputError, namingTensor, UsageError, VerificationError } from '../../errors.js';
import { openGpu, resolveForcedKernel } from '../gpu.js';
import { printableName, progressBar, writeJsonDocument } from '../format.js';
import { MAX_BATCH, onlyOnce, parseBatch, parseSeed, refuseDashOut, refuseUnused } from '../options.js';
import { GgufFile } from '../../gguf/file.js';
import { checkOutputs, NpyWriter, parseNpy, refuseUnwritableOutput } from '../../npy.js';
import { cleanUpOnSignal } from '../interrupt.js';
import { f16ToF32, nmse } from '../../quant/index.js';
import { fileTensor, type TensorSource } from '../../tensor-source.js';
import { activations, MAX_PRODUCT_BYTES, NMSE_BAR, productBytes, referenceOutput, unsupportedReason } from '../../verify.js';

interface MatmulOptions {
  tensor: string;
  input?: string;
  batch?: string;
  seed: string;
  backend: 'gpu' | 'cpu';
  out?: string;
  force?: boolean;
  check: boolean;
  json?: boolean;
  /** A kernel (name or index) forced instead of the dispatch table (GPU backend only). */
  kernel?: string;
}

function checkProductSize(t: TensorSource, batch: number, options: MatmulOptions): void {
  const reference = options.backend === 'cpu' || options.check;
  const bytes = productBytes(t, [batch], reference);
  if (bytes > MAX_PRODUCT_BYTES) {
    throw new UsageError(
      `batch ${batch} with ${t.name} [${t.shape.join(', ')}] needs ${(bytes / 2 ** 30).toFixed(1)} GiB for x, y${reference ? ' and the reference' : ''}, over the limit of ${MAX_PRODUCT_BYTES / 2 ** 30} GiB: use a smaller batch`,
    );
  }
}

/** x.npy's bytes, from a file, a pipe (`-i /dev/stdin`, `<(...)`) or a device, read only up to what
 * the biggest batch of this row length can take: /dev/zero or a pipe that never ends is an error, not
 * a read that grows forever. */
async function readInput(path: string, t: TensorSource): Promise<Buffer> {
  const largest = 4096 + MAX_BATCH * t.rowLength * 4;
  const tooBig = () => new InputError(path, `more than ${largest} bytes, more than ${MAX_BATCH} rows of ${t.rowLength} float32 can take`);
  const stdin = path === '-' || path === '/dev/stdin'; // fd 0 itself: opening /dev/stdin fails when it is a socket
  let fd: number | undefined;
  try {
    const stat = stdin ? fstatSync(0) : statSync(path);
    if (stat.isDirectory()) throw new InputError(path, 'a directory, not a file');
    if (stat.isFile() && stat.size > largest) throw tooBig();
    const chunks: Buffer[] = [];
    let total = 0;
    const take = (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total > largest) throw tooBig();
    };
    if (stdin) {
      // through the stream: fd 0 may be non-blocking (readSync then fails with EAGAIN on a slow pipe),
      // and a signal must still be able to stop the wait
      for await (const chunk of process.stdin) take(chunk as Buffer);
      return Buffer.concat(chunks);
    }
    fd = openSync(path, 'r');
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(16 << 20, largest + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks);
      take(chunk.subarray(0, n));
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(path, `cannot read: ${fsReason(error)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (stdin) process.stdin.destroy(); // a pipe that holds more is not read to its end
  }
}

/** The float64 reference, with a progress bar over W's bytes on a terminal (a large tensor at a large batch
 * takes minutes on one core). */
function referenceWithProgress(t: TensorSource, x: Float32Array, batch: number, json: boolean): Float64Array {
  const bytes = t.nbytes;
  const bar = progressBar(bytes, process.stderr.isTTY === true && !json);
  try {
    return referenceOutput(t, x, batch, (rows) => bar.update(Math.round((bytes * rows) / t.rows), 'float64 reference'));
  } finally {
    bar.stop();
  }
}

/** Activations from x.npy ([n, ne0] f32 or f16) or seeded random ones. */
async function loadInput(t: TensorSource, options: MatmulOptions): Promise<{ x: Float32Array; batch: number }> {
  if (options.input) {
    const npy = parseNpy(await readInput(options.input, t), options.input);
    const [n, k] = npy.shape.length === 1 ? [1, npy.shape[0]!] : npy.shape;
    if (npy.shape.length > 2 || k !== t.rowLength) {
      throw new InputError(options.input, `shape (${npy.shape.join(', ')}) does not fit ${t.name}: expected (n, ${t.rowLength})`);
    }
    if (n! < 1 || n! > MAX_BATCH) throw new InputError(options.input, `${n} rows: the batch must be from 1 to ${MAX_BATCH}`);
    checkProductSize(t, n!, options);
    const count = n! * k;
    const x = new Float32Array(count);
    const view = new DataView(npy.data.buffer, npy.data.byteOffset, npy.data.byteLength);
    for (let i = 0; i < count; i++) x[i] = npy.dtype === 'f32' ? view.getFloat32(4 * i, true) : f16ToF32(view.getUint16(2 * i, true));
    return { x, batch: n! };
  }
  const batch = parseBatch(options.batch ?? '1');
  const seed = parseSeed(options.seed);
  checkProductSize(t, batch, options);
  return { x: activations(t.rowLength, batch, seed), batch };
}

interface MatmulReport {
  tensor: string;
  type: string;
  shape: number[];
  batch: number;
  backend: 'gpu' | 'cpu';
  kernel: string;
  microseconds: number;
  tflops: number;
  nmse: number | null;
  out?: string;
}

async function runMatmul(path: string, options: MatmulOptions): Promise<MatmulReport> {
  const file = GgufFile.open(path, { keepTruncated: true }); // one whole tensor of a partly downloaded file will do
  try {
    const info = file.tensors.find((x) => x.name === options.tensor);
    if (!info) throw new UsageError(`${path}: no tensor named "${options.tensor}" (matmul takes one exact name; \`gguf-gpu inspect\` lists them)`);
    if (options.out) { // before the product is computed
      checkOutputs([options.out], options.force === true);
      refuseUnwritableOutput(options.out);
    }
    const t = fileTensor(file, info);
    const reason = unsupportedReason(t, file.header.littleEndian);
    if (reason) throw new InputError(path, reason, t.name);
    const { x, batch } = await loadInput(t, options);
    let y: Float32Array;
    let kernel: string;
    let microseconds: number;
    let ref: Float64Array | undefined;
    if (options.backend === 'cpu') {
      const started = performance.now();
      ref = referenceWithProgress(t, x, batch, options.json === true);
      microseconds = (performance.now() - started) * 1000;
      y = Float32Array.from(ref);
      kernel = 'cpu float64 reference';
    } else {
      const forced = (await resolveForcedKernel(options.kernel, 'computes the product on the CPU'))?.index ?? -1;
      const gpu = await openGpu('computes the product on the CPU');
      const { packWeights, gpuMatmul } = await import('../../gpu/matmul.js');
      const { uploadSource } = await import('../../gpu/loader.js');
      ({ y, kernel, microseconds } = await namingTensor(t.name, () => {
        const raw = uploadSource(gpu, t);
        try {
          const w = packWeights(gpu, raw, t.typeId, t.rows, t.rowLength);
          try {
            return gpuMatmul(gpu, w, x, batch, forced);
          } finally {
            w.dispose();
          }
        } finally {
          raw.dispose();
        }
      }));
    }
    const error = options.backend === 'gpu' && options.check ? nmse(y, ref ?? referenceWithProgress(t, x, batch, options.json === true)) : null;
    if (options.out) {
      cleanUpOnSignal();
      const out = perMatrixOutput(y, batch, t.shape);
      await NpyWriter.writeFile(options.out, 'f32', out.shape, options.force === true, (writer) => writer.write(new Uint8Array(out.values.buffer)));
    }
    return {
      tensor: t.name,
      type: t.typeName,
      shape: [...t.shape],
      batch,
      backend: options.backend,
      kernel,
      microseconds,
      tflops: (2 * t.rows * t.rowLength * batch) / microseconds / 1e6,
      nmse: error,
      out: options.out,
    };
  } finally {
    file.close();
  }
}

/** numpy's shape of y and its values in that order. A W of more than two dimensions (experts: [ne0, ne1,
 * ne2, ne3]) is a stack of [ne0, ne1] matrices, each multiplied by the same x, as ggml's mul_mat
 * broadcasts x over them: y is [ne3, ne2, n, ne1], where the kernels' y is [n, ne1 * ne2 * ne3] (the
 * matrices' rows one after another). A 2-D W's y is [n, ne1] as it is. */
export function perMatrixOutput(y: Float32Array, batch: number, shape: readonly number[]): { shape: number[]; values: Float32Array } {
  const rowsPerMatrix = shape[1] ?? 1;
  const matrices = shape.slice(2).reduce((a, b) => a * b, 1);
  if (matrices === 1) return { shape: [batch, rowsPerMatrix], values: y };
  const values = new Float32Array(y.length);
  const rows = rowsPerMatrix * matrices;
  for (let m = 0; m < matrices; m++) {
    for (let j = 0; j < batch; j++) {
      values.set(y.subarray(j * rows + m * rowsPerMatrix, j * rows + (m + 1) * rowsPerMatrix), (m * batch + j) * rowsPerMatrix);
    }
  }
  return { shape: [...shape.slice(2).reverse(), batch, rowsPerMatrix], values };
}

/** The error of a GPU product whose NMSE against the float64 reference is over the bar (or NaN). */
function matmulCheckFailed(r: Pick<MatmulReport, 'tensor' | 'kernel' | 'batch' | 'nmse'>): VerificationError {
  return new VerificationError(
    `tensor ${r.tensor}: ${r.kernel} at batch ${r.batch} has NMSE ${r.nmse?.toExponential(2)} against the float64 reference, over the ${NMSE_BAR} bar`,
  );
}

export function registerMatmul(program: Command): void {
  program
    .command('matmul')
    .description('y = W·x with W a quantized tensor of the file (fused dequant + matmul on the GPU)')
    .argument('<file>', 'GGUF file')
    .requiredOption('-t, --tensor <name>', 'the weight tensor W ([ne0, ne1]: ne1 rows of ne0 weights; [ne0, ne1, ne2]: ne2 such matrices, e.g. experts)', onlyOnce('--tensor', 'matmul takes one tensor'))
    .option('-i, --input <x.npy>', 'activations, float32 or float16 [n, ne0]; - (or /dev/stdin) reads standard input')
    .option('-n, --batch <n>', 'without --input: n random activation rows (default 1)')
    .option('--seed <s>', 'seed of the random activations', '1')
    .addOption(new Option('-b, --backend <backend>', 'gpu, or cpu for the float64 reference').choices(['gpu', 'cpu']).default('gpu'))
    .option('-o, --out <y.npy>', 'write y, float32 [n, ne1] ([ne2, n, ne1] for a 3-D W)')
    .option('-f, --force', 'overwrite --out')
    .option('--no-check', 'skip the NMSE check against the float64 CPU reference')
    .option('--json', 'print the summary as JSON on stdout')
    .option('--kernel <name>', 'force one matmul kernel (name or index) instead of the dispatch table; one that cannot take the type is refused')
    .addHelpText(
      'after',
      `
The GPU path uploads W's raw blocks, never dequantizes it on the CPU, and reports the kernel that
ran, its time (CUDA events, after a warm-up launch) and the NMSE against a float64 reference.
Exit code 1 when that NMSE is over the ${NMSE_BAR} bar (y is still written and reported).
A W of 3 or 4 dimensions (an expert stack) is multiplied matrix by matrix with the same x, as ggml
broadcasts it: y.npy is [ne2, n, ne1] ([ne3, ne2, n, ne1]); the time and NMSE cover the whole stack.

Examples:
  gguf-gpu matmul model.gguf -t blk.0.ffn_down.weight --batch 8
  gguf-gpu matmul model.gguf -t output.weight --input x.npy --out y.npy`,
    )
    .action(async (path: string, options: MatmulOptions, command: Command) => {
      refuseDashOut(options.out);
      if (!options.out) refuseUnused(command, ['force'], 'without --out (nothing is written)');
      if (options.input) refuseUnused(command, ['batch', 'seed'], 'to --input (x comes from the file, and its rows are the batch)');
      if (options.backend === 'cpu') refuseUnused(command, ['check', 'kernel'], 'to --backend cpu (it computes the float64 reference itself)');
      const r = await runMatmul(path, options);
      const failed = r.nmse !== null && !(r.nmse <= NMSE_BAR); // NaN fails too
      if (options.json) {
        writeJsonDocument(r);
      } else {
        const verdict = r.nmse === null ? '' : failed ? chalk.red(` over the ${NMSE_BAR} bar`) : chalk.green(' ok');
        process.stdout.write(
          `${printableName(r.tensor)} ${r.type} [${r.shape.join(', ')}] x batch ${r.batch} on ${r.backend}: ${r.kernel}, ` +
            `${r.microseconds.toFixed(1)} us (${r.tflops >= 1 ? `${r.tflops.toFixed(2)} TFLOP/s` : `${(r.tflops * 1000).toFixed(2)} GFLOP/s`})` +
            `${r.nmse === null ? '' : `, NMSE ${r.nmse.toExponential(2)}${verdict}`}${r.out ? `, y -> ${r.out}` : ''}\n`,
        );
      }
      if (failed) throw matmulCheckFailed(r);
    });
}
