import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeGguf } from '../../gguf/writer.js';
import chalk from 'chalk';
import { Option, type Command } from 'commander';
import { benchCpuDecoders, benchReferenceMatmul, type CpuBenchRow } from '../../bench/cpu.js';
import type { BenchRow, CacheMode, FileUploadResult, Peaks } from '../../bench/gpu.js';
import { plotHtml, plotSvg } from '../../bench/plot.js';
import { fsReason, GpuError, OutputError, UsageError } from '../../errors.js';
import { GgufFile } from '../../gguf/file.js';
import { ggmlTypeByName, ggmlTypeName, tensorByteSize } from '../../gguf/ggml-types.js';
import type { Gpu } from '../../gpu/device.js';
import type { ForcedKernel } from '../../gpu/matmul.js';
import { isSupportedType, SUPPORTED_TYPE_IDS } from '../../quant/index.js';
import { fileTensor, generatedTensor, type TensorSource } from '../../tensor-source.js';
import { refuseUnwritable } from '../../npy.js';
import { formatBytes, printable, printableName, table, writeJsonDocument } from '../format.js';
import { openGpu, resolveForcedKernel } from '../gpu.js';
import { givenOptions, longFlags, parseBatches, refuseUnused } from '../options.js';

interface BenchOptions {
  types: string;
  shape: string;
  batch?: string;
  cache: CacheMode;
  backend?: 'gpu' | 'cpu';
  json?: boolean;
  plot?: string;
  baselines: boolean;
  kernel?: string;
}

const DEFAULT_BATCHES = '1,2,4,8,16,512';
const DEFAULT_TYPES = 'q4_0,q4_K,q6_K,q8_0';

/** The types a file holds (CPU bench over a file): those with a decoder, and the names of the others. */
function typesInFile(path: string): { ids: number[]; without: string[] } {
  const file = GgufFile.open(path, { keepTruncated: true }); // the types are in the header
  try {
    const all = [...new Set(file.tensors.map((t) => t.typeId))];
    return { ids: all.filter(isSupportedType), without: all.filter((id) => !isSupportedType(id)).map(ggmlTypeName) };
  } finally {
    file.close();
  }
}

/** --types: each type once, in the order first given. */
function parseTypes(text: string): number[] {
  const ids = text.split(',').map((name) => {
    const info = ggmlTypeByName(name.trim());
    if (!info || !isSupportedType(info.id)) throw new UsageError(`--types: unknown or unsupported type "${name}"`);
    return info.id;
  });
  return [...new Set(ids)];
}

/** The most bytes one generated bench matrix may take: it is made on the host in one array (Node 20's
 * limit is 4 GiB), whatever its type. 152064 x 8192 (Qwen2.5-72B's output) is 700 MB as Q4_K. */
const MAX_SHAPE_BYTES = 2 ** 32 - 1;

/** --shape for the generated matrices of `typeIds`. */
function parseShape(text: string, typeIds: readonly number[]): { rows: number; rowLength: number } {
  const m = /^(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--shape must look like ROWSxROW_LENGTH (e.g. 4096x14336), got "${text}"`);
  const rows = Number(m[1]);
  const rowLength = Number(m[2]);
  if (rowLength < 256 || rowLength % 256 !== 0) throw new UsageError(`--shape: the row length must be a positive multiple of 256, got ${m[2]}`);
  if (rows < 1) throw new UsageError('--shape: at least one row');
  for (const typeId of typeIds) {
    const bytes = tensorByteSize(typeId, [rowLength, rows]);
    if (!(bytes <= MAX_SHAPE_BYTES)) {
      throw new UsageError(`--shape ${m[1]}x${m[2]} is ${formatBytes(bytes)} as ${ggmlTypeName(typeId)}, over the ${formatBytes(MAX_SHAPE_BYTES)} one generated matrix may take`);
    }
  }
  return { rows, rowLength };
}

export interface GpuBenchReport {
  device: { name: string; computeCapability: string; smCount: number; l2Bytes: number; totalBytes: number; runtime?: 'CUDA' | 'HIP' };
  cache: CacheMode;
  peaks: Peaks;
  results: BenchRow[];
  /** The loader's file -> GPU upload of the weights (raw blocks). */
  upload: FileUploadResult;
  perType?: { type: string; tensors: number; bytes: number; usAtBatch1: number; fraction: number }[];
  decodeStepEstimateUs?: number;
}

/** Writes generated tensors to a temporary GGUF file, so the loader's upload from a file can be timed.
 * The file is removed as soon as it is open (its descriptor still reads it), so a signal that stops the
 * process later leaves nothing behind. */
function withTempFile<T>(sources: TensorSource[], use: (file: GgufFile) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-gpu-bench-'));
  let file: GgufFile;
  try {
    const path = join(dir, 'weights.gguf');
    writeFileSync(path, writeGguf({ tensors: sources.map((t) => ({ name: t.name, typeId: t.typeId, shape: [...t.shape], data: t.read(0, t.nbytes) })) }));
    file = GgufFile.open(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  try {
    return use(file);
  } finally {
    file.close();
  }
}

/** What the GPU bench will run, from its options alone: parsed before the GPU is opened, so that a
 * mistyped option is a usage error (exit 2) on any machine. */
interface GpuBenchPlan {
  batches: number[];
  /** Without a file: the generated tensors' types and shape. */
  generated?: { typeIds: number[]; rows: number; rowLength: number };
  /** `--kernel`, checked against the library's names. */
  kernel?: ForcedKernel;
}

async function planGpuBench(path: string | undefined, options: BenchOptions): Promise<GpuBenchPlan> {
  const batches = parseBatches(options.batch ?? (path ? '1' : DEFAULT_BATCHES));
  const typeIds = path ? [] : parseTypes(options.types);
  const generated = path ? undefined : { typeIds, ...parseShape(options.shape, typeIds) };
  return { batches, generated, kernel: await resolveForcedKernel(options.kernel, 'benches the CPU decoders instead') };
}

async function runGpuBench(gpu: Gpu, file: GgufFile | undefined, plan: GpuBenchPlan, options: BenchOptions, step: (s: string) => void): Promise<GpuBenchReport> {
  const gpuBench = await import('../../bench/gpu.js');
  const { batches, generated, kernel } = plan;
  const base = gpuBench.measurePeaks(gpu, step);
  let sources: TensorSource[];
  if (file) {
    // Matrices only: vectors (norms, biases) are not matmul weights.
    sources = file.tensors.filter((t) => isSupportedType(t.typeId) && t.shape.length >= 2 && t.elements > 0).map((t) => fileTensor(file, t));
  } else {
    const { typeIds, rows, rowLength } = generated!;
    sources = typeIds.map((id, i) => generatedTensor(id, rowLength, rows, 100 + i));
  }
  step('file -> GPU upload');
  const upload = file
    ? gpuBench.measureFileUpload(gpu, file, file.tensors.filter((t) => isSupportedType(t.typeId)), base.uploadGBps)
    : withTempFile(sources, (f) => gpuBench.measureFileUpload(gpu, f, f.tensors, base.uploadGBps));
  const results: BenchRow[] = [];
  const dequant: Peaks['dequant'] = [];
  for (const t of sources) {
    const r = gpuBench.benchTensor(gpu, t, { batches, cache: options.cache, nmseRows: file ? 0 : 256, baselines: options.baselines && !file, kernel, onStep: step }, base.copyGBps);
    results.push(...r.rows);
    dequant.push(...r.dequant);
  }
  const blas = options.baselines && !file ? gpuBench.benchDenseBlas(gpu, sources[0]!.rows, sources[0]!.rowLength, batches.filter((b) => b >= 8)) : [];
  const report: GpuBenchReport = {
    device: {
      name: gpu.info.name,
      computeCapability: gpu.info.computeCapability,
      smCount: gpu.info.smCount,
      l2Bytes: gpu.info.l2Bytes,
      totalBytes: gpu.info.totalBytes,
      runtime: gpu.info.isHip ? 'HIP' : 'CUDA',
    },
    cache: options.cache,
    peaks: { ...base, dequant, blas },
    upload,
    results,
  };
  if (file) {
    const ones = results.filter((r) => r.batch === batches[0]);
    const byType = new Map<string, { type: string; tensors: number; bytes: number; usAtBatch1: number; floorUs: number }>();
    for (const r of ones) {
      const row = byType.get(r.type) ?? { type: r.type, tensors: 0, bytes: 0, usAtBatch1: 0, floorUs: 0 };
      row.tensors++;
      row.bytes += r.bytes;
      row.usAtBatch1 += r.us;
      row.floorUs += r.floorUs;
      byType.set(r.type, row);
    }
    report.perType = [...byType.values()].map(({ floorUs, ...r }) => ({ ...r, fraction: floorUs / r.usAtBatch1 }));
    report.decodeStepEstimateUs = ones.reduce((s, r) => s + r.us, 0);
  }
  return report;
}

/**
 * Each tensor's times across batch sizes in one row, as the kernels' targets are stated: n = 1 against
 * the streaming floor, n = 2..16 against the n = 1 time, larger n against dense bf16 BLAS throughput at
 * the same n (when it was measured). Undefined when there is nothing to compare (one batch size).
 */
export function scalingSummary(r: GpuBenchReport): string | undefined {
  const batches = [...new Set(r.results.map((x) => x.batch))].sort((a, b) => a - b);
  if (batches.length < 2) return undefined;
  const blas = new Map(r.peaks.blas.filter((b) => b.dtype === 'bf16').map((b) => [b.batch, b.us]));
  const byTensor = new Map<string, BenchRow[]>();
  for (const x of r.results) byTensor.set(x.tensor, [...(byTensor.get(x.tensor) ?? []), x]);
  const rows = [...byTensor.values()].map((xs) => {
    const one = xs.find((x) => x.batch === 1);
    return [
      xs[0]!.type,
      ...batches.map((n) => {
        const x = xs.find((y) => y.batch === n);
        if (!x) return '-';
        const vs = n === 1 ? `${(100 * x.fraction).toFixed(0)}%` : n <= 16 ? (one ? `${(x.us / one.us).toFixed(2)}x` : '') : blas.has(n) ? `${(blas.get(n)! / x.us).toFixed(2)}x bf16` : '';
        return vs ? `${x.us.toFixed(2)} (${vs})` : x.us.toFixed(2);
      }),
    ];
  });
  const name = r.device.runtime === 'HIP' ? 'hipBLAS' : 'cuBLAS';
  return [
    `Against the floor and n = 1 (us; n = 1: of the floor; n = 2..16: x the n = 1 time; larger n: x the throughput of bf16 ${name}):`,
    table(['type', ...batches.map((n) => `n=${n}`)], rows, [false, ...batches.map(() => true)]),
  ].join('\n');
}

/** The text report of a GPU bench. */
function renderGpu(r: GpuBenchReport): string {
  const lines: string[] = [];
  lines.push(`${r.device.name} (sm_${r.device.computeCapability.replace('.', '')}, ${r.device.smCount} SMs, L2 ${(r.device.l2Bytes / 1e6).toFixed(0)} MB), cache ${r.cache}`);
  lines.push(`device copy ${r.peaks.copyGBps.toFixed(0)} GB/s (read + write), upload ${r.peaks.uploadGBps.toFixed(1)} GB/s (pinned host -> device)`);
  const u = r.upload;
  lines.push(
    `file -> GPU (loader, raw blocks into one allocation, after a warm-up upload): ` +
      `${(u.bytes / 1e6).toFixed(0)} MB in ${(u.seconds * 1000).toFixed(1)} ms: allocation ${(u.allocSeconds * 1000).toFixed(1)} ms, ` +
      `copy ${u.gbps.toFixed(1)} GB/s (${(100 * u.fractionOfPinned).toFixed(0)}% of pinned); as f32 it would be ${(u.f32Bytes / 1e6).toFixed(0)} MB`,
  );
  const blas = r.device.runtime === 'HIP' ? 'hipBLAS' : 'cuBLAS';
  for (const b of r.peaks.blas) lines.push(`dense ${b.dtype} ${blas} n=${b.batch}: ${b.us.toFixed(1)} us, ${b.tflops.toFixed(0)} TFLOP/s`);
  lines.push('');
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  lines.push(
    table(
      ['type', 'tensor', 'n', 'us', 'min-max', 'GB/s', 'floor us', 'of floor', 'TFLOP/s', 'NMSE', `f16 ${blas}`, 'unfused', 'kernel'],
      r.results.map((x) => [
        x.type,
        printableName(x.tensor),
        x.batch,
        x.us.toFixed(2),
        `${x.spread.min.toFixed(1)}-${x.spread.max.toFixed(1)}`,
        x.gbps.toFixed(0),
        x.floorUs.toFixed(2),
        pct(x.fraction),
        x.tflops.toFixed(1),
        x.nmse === null ? '-' : x.nmse.toExponential(1),
        x.baselines.cublasF16Us?.toFixed(1) ?? '-',
        x.baselines.unfusedUs?.toFixed(1) ?? '-',
        x.kernel,
      ]),
      [false, false, true, true, true, true, true, true, true, true, true, true, false],
    ),
  );
  const summary = scalingSummary(r);
  if (summary) lines.push('', summary);
  if (r.peaks.dequant.length) {
    lines.push('', 'Dequantization (raw blocks -> f16/f32 on the GPU):');
    lines.push(table(['type', 'to', 'us', 'GB/s', 'of copy'], r.peaks.dequant.map((d) => [d.type, d.dtype, d.us.toFixed(1), d.gbps.toFixed(0), pct(d.fractionOfCopy)]), [false, false, true, true, true]));
  }
  if (r.perType) {
    lines.push('', 'Per type over the file (first batch size):');
    lines.push(table(['type', 'tensors', 'MB', 'us', 'of floor'], r.perType.map((p) => [p.type, p.tensors, (p.bytes / 1e6).toFixed(1), p.usAtBatch1.toFixed(1), pct(p.fraction)]), [false, true, true, true, true]));
    lines.push(chalk.bold(`One decode step over all these weights: about ${(r.decodeStepEstimateUs! / 1000).toFixed(2)} ms of matmul`));
  }
  return lines.join('\n');
}

function renderCpu(rows: CpuBenchRow[], refGflops: number): string {
  if (rows.length === 0) return `no tensor of a type the CPU decodes\n\nfloat64 reference matmul: ${refGflops.toFixed(2)} GFLOP/s (one core)`;
  return [
    table(['type', 'M weights/s (1 core)', `M weights/s (${rows[0]!.cores} ${rows[0]!.cores === 1 ? 'core' : 'cores'}, worker pool)`], rows.map((r) => [r.type, r.mwpsOneCore.toFixed(0), r.mwpsAllCores.toFixed(0)]), [false, true, true]),
    '',
    `float64 reference matmul: ${refGflops.toFixed(2)} GFLOP/s (one core)`,
  ].join('\n');
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time fused dequant+matmul against the streaming floor, cuBLAS (hipBLAS on AMD) and the unfused path (or the CPU decoders)')
    .argument('[file]', 'GGUF file: bench its own tensors and shapes (the CPU bench: its types); without one, generated weights of --shape')
    .option('--types <list>', 'types to bench without a file (the CPU bench: all types unless given)', DEFAULT_TYPES)
    .option('--shape <rowsxcols>', 'weights shape ROWSxROW_LENGTH (ne1 x ne0)', '4096x14336')
    .option('--batch <list>', `batch sizes (default ${DEFAULT_BATCHES}; 1 with a file)`)
    .addOption(new Option('--cache <mode>', 'cold: rotate buffers so the L2 holds none; warm: repeat one buffer').choices(['cold', 'warm']).default('cold'))
    .addOption(new Option('-b, --backend <backend>', 'gpu, or cpu for decoder throughput (default: gpu; cpu with a notice when there is no GPU and no GPU-only option was given)').choices(['gpu', 'cpu']))
    .option('--no-baselines', 'skip the cuBLAS and unfused baselines and dequantization timing')
    .option('--json', 'print the report as JSON on stdout: { device, peaks, results, ... } (CPU: { backend, decoders, referenceMatmulGflops })')
    .option('--plot <file.svg|file.html>', 'draw time against batch per type, with each floor')
    .option('--kernel <name>', 'force one matmul kernel (name or index) instead of the dispatch table, for A/B runs; one that cannot take a type is refused')
    .addHelpText(
      'after',
      `
Every time is the median of CUDA-event timings of back-to-back launches after warm-up; "of floor" is
the time a kernel that only reads the same bytes with 16-byte loads takes, measured in the same run
and cache mode, divided by the kernel's time (100% = as fast as reading the weights can be).

Examples:
  gguf-gpu bench                                  # q4_0,q4_K,q6_K,q8_0 at 4096x14336, n = 1..512
  gguf-gpu bench --types q4_K --batch 1,8 --cache warm --plot bench.svg
  gguf-gpu bench model.gguf                       # the file's tensors; estimates one decode step
  gguf-gpu bench --types q4_0 --batch 8 --kernel imma_decode_n8   # one kernel against the table's pick
  gguf-gpu bench --backend cpu                    # CPU decoder throughput`,
    )
    .action(async (path: string | undefined, options: BenchOptions, command: Command) => {
      if (path) refuseUnused(command, ['types', 'shape', 'baselines'], 'to a file (its own tensors and shapes are benched, without baselines)');
      // what only the GPU bench uses: given any of them, no GPU is an error, not a fallback to the CPU
      const gpuOnly = ['shape', 'batch', 'cache', 'plot', 'kernel', 'baselines'];
      let gpu: Gpu | undefined;
      let backend = options.backend;
      const plan = backend === 'cpu' ? undefined : await planGpuBench(path, options);
      if (options.plot && !/\.(svg|html)$/.test(options.plot)) throw new UsageError(`--plot writes a .svg or .html file, got "${options.plot}"`);
      if (options.plot && backend !== 'cpu') refuseUnwritable(options.plot); // before minutes of benching, not after
      if (backend !== 'cpu') {
        const given = givenOptions(command, gpuOnly);
        const explicit = backend === 'gpu' || given.length > 0;
        // the `--backend cpu` hint only where no fallback follows, naming what the CPU bench does not take
        const flags = longFlags(command, given);
        const hint = `${flags.length ? `without ${flags.join(', ')} ` : ''}benches the CPU decoders instead`;
        try {
          gpu = await openGpu(explicit ? hint : undefined);
          backend = 'gpu';
        } catch (error) {
          if (!(error instanceof GpuError) || explicit) throw error;
          process.stderr.write(chalk.yellow(`No GPU (${printable(error.message)}): benching the CPU decoders instead.\n`));
          backend = 'cpu';
        }
      }
      if (backend === 'cpu') {
        refuseUnused(command, gpuOnly, 'to the CPU bench (it times the decoders of each type)');
        const all = command.getOptionValueSource('types') !== 'cli';
        const inFile = path ? typesInFile(path) : undefined;
        const ids = inFile ? inFile.ids : all ? [...SUPPORTED_TYPE_IDS] : parseTypes(options.types);
        if (inFile?.without.length) process.stderr.write(`not benched (no decoder): ${inFile.without.join(', ')}\n`);
        const rows = await benchCpuDecoders(ids);
        const ref = benchReferenceMatmul();
        if (options.json) writeJsonDocument({ backend: 'cpu', decoders: rows, referenceMatmulGflops: ref }, path);
        else process.stdout.write(`${renderCpu(rows, ref)}\n`);
        return;
      }
      const file = path ? GgufFile.open(path) : undefined;
      try {
        const step = process.stderr.isTTY && !options.json ? (s: string) => process.stderr.write(`\r\x1b[K${chalk.gray(s)}`) : () => {};
        const report = await runGpuBench(gpu!, file, plan!, options, step);
        if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
        if (options.json) writeJsonDocument(report, path);
        else process.stdout.write(`${renderGpu(report)}\n`);
        if (options.plot) {
          const title = `${report.device.name}: fused dequant+matmul, ${report.cache} L2`;
          try {
            writeFileSync(options.plot, options.plot.endsWith('.html') ? plotHtml(report.results, title) : plotSvg(report.results, title));
          } catch (error) {
            throw new OutputError(options.plot, fsReason(error));
          }
        }
      } finally {
        file?.close();
      }
    });
}
