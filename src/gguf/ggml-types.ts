// The ggml tensor type table: ids exactly as ggml numbers them (gaps included), block sizes and
// bytes per block as integers. Byte sizes are always (elements / blockSize) * typeSize.

export interface GgmlTypeInfo {
  /** ggml's numeric id, as stored in a GGUF tensor info. */
  readonly id: number;
  /** ggml's name, e.g. "Q4_K". */
  readonly name: string;
  /** Weights per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

const QK_K = 256;

function t(id: number, name: string, blockSize: number, typeSize: number): GgmlTypeInfo {
  return { id, name, blockSize, typeSize };
}

/** Every type id ggml has assigned; ids 4, 5, 31-33 and 36-38 were removed upstream and stay unknown. */
export const GGML_TYPES: readonly GgmlTypeInfo[] = [
  t(0, 'F32', 1, 4),
  t(1, 'F16', 1, 2),
  t(2, 'Q4_0', 32, 2 + 16),
  t(3, 'Q4_1', 32, 2 + 2 + 16),
  t(6, 'Q5_0', 32, 2 + 4 + 16),
  t(7, 'Q5_1', 32, 2 + 2 + 4 + 16),
  t(8, 'Q8_0', 32, 2 + 32),
  t(9, 'Q8_1', 32, 2 + 2 + 32),
  t(10, 'Q2_K', QK_K, QK_K / 16 + QK_K / 4 + 2 + 2),
  t(11, 'Q3_K', QK_K, QK_K / 8 + QK_K / 4 + 12 + 2),
  t(12, 'Q4_K', QK_K, 2 + 2 + 12 + QK_K / 2),
  t(13, 'Q5_K', QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2),
  t(14, 'Q6_K', QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2),
  t(15, 'Q8_K', QK_K, 4 + QK_K + (QK_K / 16) * 2),
  t(16, 'IQ2_XXS', QK_K, 2 + QK_K / 4),
  t(17, 'IQ2_XS', QK_K, 2 + QK_K / 4 + QK_K / 32),
  t(18, 'IQ3_XXS', QK_K, 2 + (3 * QK_K) / 8),
  t(19, 'IQ1_S', QK_K, 2 + QK_K / 8 + QK_K / 16),
  t(20, 'IQ4_NL', 32, 2 + 16),
  t(21, 'IQ3_S', QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4),
  t(22, 'IQ2_S', QK_K, 2 + QK_K / 4 + QK_K / 16),
  t(23, 'IQ4_XS', QK_K, 2 + 2 + QK_K / 64 + QK_K / 2),
  t(24, 'I8', 1, 1),
  t(25, 'I16', 1, 2),
  t(26, 'I32', 1, 4),
  t(27, 'I64', 1, 8),
  t(28, 'F64', 1, 8),
  t(29, 'IQ1_M', QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
  t(30, 'BF16', 1, 2),
  t(34, 'TQ1_0', QK_K, (QK_K - (4 * QK_K) / 64) / 5 + QK_K / 64 + 2),
  t(35, 'TQ2_0', QK_K, QK_K / 4 + 2),
  t(39, 'MXFP4', 32, 1 + 16),
];

const byId = new Map(GGML_TYPES.map((info) => [info.id, info]));
const byName = new Map(GGML_TYPES.map((info) => [info.name.toUpperCase(), info]));

/** The type with this id, or undefined for ids ggml never assigned (or removed). */
export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return byId.get(id);
}

/** Case-insensitive lookup by ggml name ("q4_k" finds Q4_K). */
export function ggmlTypeByName(name: string): GgmlTypeInfo | undefined {
  return byName.get(name.toUpperCase());
}

/** A name for any id, known or not, for messages. */
export function ggmlTypeName(id: number): string {
  return byId.get(id)?.name ?? `type#${id}`;
}

/** Bytes of a tensor of this type and shape. */
export function tensorByteSize(typeId: number, shape: readonly number[]): number {
  const info = ggmlTypeById(typeId);
  if (!info) throw new Error(`unknown ggml type id ${typeId}`);
  const elements = shape.reduce((a, b) => a * b, 1);
  return (elements / info.blockSize) * info.typeSize;
}
