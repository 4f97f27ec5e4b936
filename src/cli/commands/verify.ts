import { createHash } from 'node:crypto';
import chalk from 'chalk';
import { Option, type Command } from 'commander';
import { GpuError, InputError, namingTensor, UsageError, VerificationError } from '../../errors.js';
import { GgufFile } from '../../gguf/file.js';
import type { Gpu } from '../../gpu/device.js';
import { decoderFor, nmse, SUPPORTED_TYPE_IDS } from '../../quant/index.js';
import { KNOWN_ANSWERS } from '../../quant/known-answers.generated.js';
import { fileTensor, generatedTensor, type TensorSource } from '../../tensor-source.js';
import {
  activations,
  cpuSelfCheck,
  gpuDequantCheck,
  EMPTY_TENSOR,
  MAX_PRODUCT_BYTES,
  NMSE_BAR,
  productBytes,
  unsupportedReason,
  type TensorVerdict,
} from '../../verify.js';
import { selectTensors } from './dequant.js';
import { openGpu } from '../gpu.js';
import { nameList, printableName, progressBar, shortName, table, writeJsonDocument } from '../format.js';
import { collect, parseBatches, parseSeed, refuseUnused } from '../options.js';

interface VerifyOptions {
  tensor?: string[];
  batch: string;
  backend: 'gpu' | 'cpu';
  json?: boolean;
  seed: string;
}

/** The built-in suite: every supported type on generated tensors of awkward shapes. */
function builtinSuite(): TensorSource[] {
  const out: TensorSource[] = [];
  let seed = 7;
  for (const id of SUPPORTED_TYPE_IDS) {
    const block = Math.max(decoderFor(id)!.info.blockSize, 256);
    for (const [blocks, rows] of [[3, 37], [10, 129], [1, 1]] as const) out.push(generatedTensor(id, blocks * block, rows, seed++));
  }
  return out;
}

/** Checks the CPU decoders against answers ggml computed (shipped in the package). */
function knownAnswerVerdicts(): TensorVerdict[] {
  return KNOWN_ANSWERS.map((k) => {
    const { info, decode } = decoderFor(k.typeId)!;
    const elements = k.shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(elements);
    decode(Buffer.from(k.blocks, 'base64'), out, elements / info.blockSize);
    const ok = createHash('sha256').update(new Uint8Array(out.buffer)).digest('hex') === k.sha256;
    return {
      tensor: `known-answer:${k.name}`,
      type: info.name,
      shape: k.shape,
      selfCheck: { elements, mismatches: ok ? 0 : elements, maxUlp: 0 },
      builtin: true,
      pass: ok,
    };
  });
}

/** Why the products at `batches` cannot be checked: their host memory would be over the limit. */
function tooMuchMemory(t: TensorSource, batches: readonly number[]): string | undefined {
  const bytes = productBytes(t, batches);
  if (bytes <= MAX_PRODUCT_BYTES) return undefined;
  return `batches ${batches.join(',')} need ${(bytes / 2 ** 30).toFixed(1)} GiB for x, y and the float64 references, over the limit of ${MAX_PRODUCT_BYTES / 2 ** 30} GiB`;
}

async function verifyOnGpu(gpu: Gpu, t: TensorSource, batches: number[], seed: number): Promise<TensorVerdict> {
  const { packWeights, gpuMatmul } = await import('../../gpu/matmul.js');
  const { uploadSource } = await import('../../gpu/loader.js');
  const verdict: TensorVerdict = { tensor: t.name, type: t.typeName, shape: [...t.shape], pass: true };
  const raw = uploadSource(gpu, t);
  try {
    // one CPU decode of the tensor serves both the bit-exact dequant check and the float64 references
    const inputs = batches.map((batch) => ({ batch, x: activations(t.rowLength, batch, seed + batch) }));
    const { refs, ...dequant } = gpuDequantCheck(gpu, t, raw, inputs);
    verdict.dequant = dequant;
    verdict.pass = verdict.dequant.mismatches === 0;
    if (batches.length > 0) {
      const w = packWeights(gpu, raw, t.typeId, t.rows, t.rowLength);
      try {
        const runs = inputs.map(({ x, batch }) => gpuMatmul(gpu, w, x, batch));
        verdict.matmul = runs.map((run, i) => {
          const e = nmse(run.y, refs[i]!);
          return { batch: inputs[i]!.batch, nmse: e, kernel: run.kernel, pass: e <= NMSE_BAR };
        });
      } finally {
        w.dispose();
      }
      verdict.pass &&= verdict.matmul.every((m) => m.pass);
    }
  } finally {
    raw.dispose();
  }
  return verdict;
}

function verifyOnCpu(t: TensorSource): TensorVerdict {
  const selfCheck = cpuSelfCheck(t);
  return { tensor: t.name, type: t.typeName, shape: [...t.shape], selfCheck, pass: selfCheck.mismatches === 0 };
}

interface VerifyReport {
  file?: string;
  backend: 'gpu' | 'cpu';
  device?: string;
  gpuUnavailable?: string;
  batches: number[];
  tensors: TensorVerdict[];
  summary: { type: string; tensors: number; passed: number; failed: number; skipped: number; worstNmse: number | null }[];
  pass: boolean;
}

function summarize(verdicts: TensorVerdict[]): VerifyReport['summary'] {
  const byType = new Map<string, VerifyReport['summary'][number]>();
  for (const v of verdicts) {
    const row = byType.get(v.type) ?? { type: v.type, tensors: 0, passed: 0, failed: 0, skipped: 0, worstNmse: null };
    row.tensors++;
    if (v.skipped) row.skipped++;
    else if (v.pass) row.passed++;
    else row.failed++;
    for (const m of v.matmul ?? []) row.worstNmse = Math.max(row.worstNmse ?? 0, m.nmse);
    byType.set(v.type, row);
  }
  return [...byType.values()];
}

async function runVerify(path: string | undefined, options: VerifyOptions): Promise<VerifyReport> {
  let batches = options.backend === 'gpu' ? parseBatches(options.batch) : [];
  const seed = parseSeed(options.seed);
  const file = path ? GgufFile.open(path, { keepTruncated: true }) : undefined; // tensors past the end: not checked (exit 3)
  try {
    if (!file && options.tensor?.length) throw new UsageError('--tensor needs a file');
    const sources = file ? selectTensors(file, options.tensor).map((t) => fileTensor(file, t)) : builtinSuite();
    let gpu: Gpu | undefined;
    let gpuUnavailable: string | undefined;
    if (options.backend === 'gpu') {
      try {
        gpu = await openGpu();
      } catch (error) {
        if (!(error instanceof GpuError)) throw error;
        gpuUnavailable = error.message;
        batches = []; // no products ran: no NMSE columns
      }
    }
    // Without a GPU the CPU reference is checked against ggml's own answers first.
    const verdicts: TensorVerdict[] = gpu ? [] : knownAnswerVerdicts();
    const present = (t: TensorSource) => (t.missing ? 0 : t.nbytes); // a missing tensor's size may be absurd
    const total = sources.reduce((s, t) => s + present(t), 0);
    const bar = progressBar(total, process.stderr.isTTY === true && !options.json);
    let done = 0;
    try {
      for (const t of sources) {
        const skipped = unsupportedReason(t, file?.header.littleEndian ?? true) ?? (gpu ? tooMuchMemory(t, batches) : undefined);
        // an empty tensor of a type we decode: checked, trivially
        if (skipped === EMPTY_TENSOR) verdicts.push({ tensor: t.name, type: t.typeName, shape: [...t.shape], selfCheck: { elements: 0, mismatches: 0, maxUlp: 0 }, pass: true });
        else if (skipped) verdicts.push({ tensor: t.name, type: t.typeName, shape: [...t.shape], skipped, pass: false });
        else verdicts.push(gpu ? await namingTensor(t.name, () => verifyOnGpu(gpu, t, batches, seed)) : verifyOnCpu(t));
        done += present(t);
        bar.update(done, t.name);
      }
    } finally {
      bar.stop();
    }
    return {
      file: path,
      backend: options.backend,
      device: gpu?.info.name,
      gpuUnavailable,
      batches,
      tensors: verdicts,
      summary: summarize(verdicts.filter((v) => !v.builtin)), // the file's (or suite's) tensors
      pass: verdicts.every((v) => v.pass) && !gpuUnavailable, // a skipped tensor is not a pass
    };
  } finally {
    file?.close();
  }
}

function fmtCheck(c: TensorVerdict['dequant']): string {
  if (!c) return '-';
  return c.mismatches === 0 ? 'exact' : `${c.mismatches}/${c.elements} differ, max ${c.maxUlp} ulp`;
}

function renderVerify(r: VerifyReport): string {
  const lines: string[] = [];
  const where = r.backend === 'gpu' && r.device ? `GPU ${r.device} against the CPU reference` : 'the CPU reference against itself and ggml known answers';
  lines.push(`Verifying ${r.file ?? 'the built-in suite'}: ${where}`);
  if (r.gpuUnavailable) lines.push(chalk.yellow(`GPU unavailable (${r.gpuUnavailable}); only the CPU checks below ran.`));
  const status = (v: TensorVerdict) => (v.skipped ? chalk.gray('skipped') : v.pass ? chalk.green('ok') : chalk.red('FAIL'));
  lines.push(
    table(
      ['tensor', 'type', 'shape', 'dequant', ...r.batches.map((b) => `nmse n=${b}`), 'status', 'note'],
      r.tensors.map((v) => [
        printableName(v.tensor),
        v.type,
        `[${v.shape.join(', ')}]`,
        v.skipped ? '-' : fmtCheck(v.dequant ?? v.selfCheck),
        ...r.batches.map((b) => {
          const m = v.matmul?.find((x) => x.batch === b);
          return m ? m.nmse.toExponential(2) : '-';
        }),
        status(v),
        v.skipped ?? '',
      ]),
    ),
  );
  lines.push('', `By type${r.file ? ' (the file\'s tensors)' : ' (the built-in suite)'}:`);
  lines.push(
    table(
      ['type', 'tensors', 'passed', 'failed', 'skipped', 'worst nmse'],
      r.summary.map((s) => [s.type, s.tensors, s.passed, s.failed, s.skipped, s.worstNmse === null ? '-' : s.worstNmse.toExponential(2)]),
      [false, true, true, true, true, true],
    ),
  );
  const failed = r.tensors.filter((v) => !v.skipped && !v.pass);
  const ran = r.tensors.filter((v) => !v.skipped).length;
  const skipped = r.tensors.length - ran;
  // the known answers are ggml's, built in: counted apart, so that they never pass for the file's tensors
  const known = r.tensors.filter((v) => v.builtin).length;
  const own = ran - known;
  const notRun = [
    r.tensors.length === known && (r.file ? 'the file holds no tensors to check' : 'the suite is empty'),
    skipped > 0 && `${skipped} tensor(s) could not be checked`,
    r.gpuUnavailable && 'the GPU checks did not run',
  ].filter(Boolean);
  const counted = known ? `${own} tensor(s) and ${known} ggml known answers` : `${own} tensor(s)`;
  const passed = `all ${r.gpuUnavailable ? 'CPU ' : ''}checks that ran passed: ${counted}${r.batches.length ? ` (NMSE bar ${NMSE_BAR})` : ''}`;
  lines.push('', failed.length ? chalk.red(`FAILED: ${nameList(failed.map((v) => printableName(v.tensor)))}`) : notRun.length ? chalk.yellow(`${passed}; ${notRun.join('; ')}`) : chalk.green(passed.replace(' that ran', '')));
  return lines.join('\n');
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check GPU dequantization (bit for bit) and fused matmul (NMSE against float64) against the CPU reference')
    .argument('[file]', 'GGUF file; without one, a built-in suite of generated tensors of every supported type')
    .option('-t, --tensor <name-or-glob>', 'a tensor to check, repeatable; * and ? globs (default: all)', collect)
    .option('--batch <list>', 'matmul batch sizes to check', '1,8')
    .addOption(new Option('-b, --backend <backend>', 'gpu: the GPU against the CPU; cpu: the CPU reference against itself and ggml known answers').choices(['gpu', 'cpu']).default('gpu'))
    .option('--seed <n>', 'seed of the random activations', '1')
    .option('--json', 'print the report as JSON on stdout')
    .addHelpText(
      'after',
      `
Exit codes: 0 every check ran and passed; 1 a check failed (the tensor is named); 3 a tensor could
not be checked (a type without a decoder, big-endian data: listed as skipped); 4 the GPU was needed
but is missing (the CPU checks still run and are reported first).

Examples:
  gguf-gpu verify                          # built-in suite, no download needed
  gguf-gpu verify model.gguf --batch 1,8,512
  gguf-gpu verify --backend cpu            # machines without a GPU`,
    )
    .action(async (path: string | undefined, options: VerifyOptions, command: Command) => {
      if (options.backend === 'cpu') refuseUnused(command, ['batch', 'seed'], 'to --backend cpu (it checks no products)');
      const report = await runVerify(path, options);
      if (options.json) writeJsonDocument(report, path);
      else process.stdout.write(`${renderVerify(report)}\n`);
      const failed = report.tensors.filter((v) => !v.skipped && !v.pass);
      if (failed.length) throw new VerificationError(`verification failed for ${nameList(failed.map((v) => shortName(v.tensor)))}`);
      if (report.gpuUnavailable) throw new GpuError(`${report.gpuUnavailable}; \`--backend cpu\` checks the CPU reference alone`);
      const skipped = report.tensors.filter((v) => v.skipped);
      if (skipped.length) {
        throw new InputError(path, `${skipped.length} tensor(s) could not be checked: ${nameList(skipped.map((v) => `${shortName(v.tensor)} (${v.skipped})`))}`);
      }
    });
}
