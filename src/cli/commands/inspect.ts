import type { Command } from 'commander';
import { InputError, UsageError } from '../../errors.js';
import { GgufFile } from '../../gguf/file.js';
import { ggmlTypeName } from '../../gguf/ggml-types.js';
import { GgufValueType, type GgufArray, type GgufTensorInfo, type GgufValue } from '../../gguf/types.js';
import { bigintToJson, formatBytes, isArray, metadataToJson, metadataToText, printableName, table, writeJsonDocument } from '../format.js';

interface InspectOptions {
  json?: boolean;
  full?: boolean;
}

function bitsPerWeight(t: GgufTensorInfo): number | undefined {
  return t.type ? (8 * t.type.typeSize) / t.type.blockSize : undefined;
}

/** The JSON shape promised to scripts: only this goes to stdout with --json. */
function inspectJson(file: GgufFile, full: boolean) {
  const h = file.header;
  return {
    file: file.path,
    size: file.size,
    version: h.version,
    littleEndian: h.littleEndian,
    alignment: h.alignment,
    dataOffset: h.dataOffset,
    metadata: Object.fromEntries(h.metadata.map((e) => [e.key, metadataToJson(e.value, full)])),
    tensors: h.tensors.map((t) => ({
      name: t.name,
      type: ggmlTypeName(t.typeId),
      shape: [...t.shape],
      offset: t.exact ? bigintToJson(t.exact.offset) : t.offset,
      nbytes: t.exact?.nbytes !== undefined ? bigintToJson(t.exact.nbytes) : (t.nbytes ?? null),
    })),
    problems: h.problems ?? [],
  };
}

/** Per type: tensors, weights and bytes (undefined for a type id without a known block size, shown as ?
 * as in the tensor table), the largest first. */
function summarizeByType(tensors: readonly GgufTensorInfo[]) {
  const byType = new Map<string, { type: string; tensors: number; weights: number; bytes: number | undefined }>();
  for (const t of tensors) {
    const type = ggmlTypeName(t.typeId);
    const row = byType.get(type) ?? { type, tensors: 0, weights: 0, bytes: 0 };
    row.tensors++;
    row.weights += t.elements;
    row.bytes = row.bytes === undefined || t.nbytes === undefined ? undefined : row.bytes + t.nbytes;
    byType.set(type, row);
  }
  return [...byType.values()].sort((a, b) => (b.bytes ?? -1) - (a.bytes ?? -1));
}

function renderText(file: GgufFile, full: boolean): string {
  const h = file.header;
  const out: string[] = [];
  out.push(`${file.path}`);
  out.push(
    `GGUF v${h.version} (${h.littleEndian ? 'little' : 'big'}-endian), alignment ${h.alignment}, data at byte ${h.dataOffset}, ` +
      `${h.metadata.length} metadata entries, ${h.tensors.length} tensors, ${formatBytes(file.size)}`,
  );
  out.push('', 'Metadata:');
  out.push(
    h.metadata.length === 0 ? '(none)' : table(
      ['key', 'type', 'value'],
      h.metadata.map((e) => {
        const arrayType = isArray(e.value) ? `[${GgufValueType[e.value.elementType]}]` : '';
        return [printableName(e.key), `${GgufValueType[e.type]}${arrayType}`, metadataToText(e.value, e.type === GgufValueType.FLOAT32, full)];
      }),
    ),
  );
  out.push('', 'Tensors:');
  out.push(
    h.tensors.length === 0 ? '(none)' : table(
      ['name', 'type', 'shape', 'bytes', 'offset', 'bpw'],
      h.tensors.map((t) => [printableName(t.name), ggmlTypeName(t.typeId), `[${t.shape.join(', ')}]`, String(t.exact?.nbytes ?? t.nbytes ?? '?'), String(t.exact?.offset ?? t.offset), bitsPerWeight(t)?.toFixed(4) ?? '?']),
      [false, false, false, true, true, true],
    ),
  );
  out.push('', 'By type:');
  const totalWeights = h.tensors.reduce((s, t) => s + t.elements, 0);
  out.push(
    h.tensors.length === 0 ? '(none)' : table(
      ['type', 'tensors', 'weights', 'bytes', 'of weights'],
      summarizeByType(h.tensors).map((r) => [r.type, r.tensors, r.weights, r.bytes === undefined ? '?' : formatBytes(r.bytes), `${((100 * r.weights) / Math.max(1, totalWeights)).toFixed(1)}%`]),
      [false, true, true, true, true],
    ),
  );
  return out.join('\n');
}

/** Array elements --full may print: a real vocabulary and its merges are well under a million; a
 * hostile header's 16M-element arrays would take gigabytes as text or JSON. */
const MAX_FULL_ELEMENTS = 1 << 22;

function refuseHugeFull(file: GgufFile): void {
  const count = (v: GgufValue): number =>
    isArray(v) ? (v.values as ArrayLike<GgufValue>).length + (v.elementType === GgufValueType.ARRAY ? (v.values as GgufArray[]).reduce((s, a) => s + count(a), 0) : 0) : 0;
  const total = file.header.metadata.reduce((s, e) => s + count(e.value), 0);
  if (total > MAX_FULL_ELEMENTS) {
    throw new UsageError(`${file.path}: --full would print ${total} array elements, over the limit of ${MAX_FULL_ELEMENTS}; without --full arrays are shortened`);
  }
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show a GGUF file\'s header: version, metadata and the tensor table')
    .argument('<file>', 'GGUF file')
    .option('--json', 'print only JSON on stdout: { file, size, version, littleEndian, alignment, dataOffset, metadata, tensors }')
    .option('--full', 'print long metadata strings and arrays (vocabularies) in full instead of shortened')
    .addHelpText(
      'after',
      `
Examples:
  gguf-gpu inspect model.gguf
  gguf-gpu inspect model.gguf --json | jq '.tensors[] | select(.type == "Q4_K") | .name'

A truncated or header-only file is shown all the same, with the tensors it lacks counted on stderr
(exit code 3; --json lists them as "problems").

In --json, 64-bit values beyond 2^53 are strings, as are NaN and infinities ("NaN", "Infinity",
"-Infinity"), and arrays longer than 8 items are shortened to
{ "length": N, "first": [...] } unless --full is given.`,
    )
    .action((path: string, options: InspectOptions) => {
      // a truncated or header-only file still shows its header; the missing data makes the exit code 3
      const file = GgufFile.open(path, { keepTruncated: true });
      try {
        const full = options.full === true;
        if (full) refuseHugeFull(file);
        if (options.json) writeJsonDocument(inspectJson(file, full), path);
        else process.stdout.write(`${renderText(file, full)}\n`);
        const problems = file.header.problems ?? [];
        if (problems.length > 0) {
          const first = problems[0]!;
          throw new InputError(
            path,
            `the file is truncated: ${problems.length} of ${file.tensors.length} tensors lack their data (the first, ${first.tensor}: ${first.reason})`,
          );
        }
      } finally {
        file.close();
      }
    });
}
