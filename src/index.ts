// The library: what the CLI is built from, for programs of their own. The GPU part loads its native
// library only when Gpu.open() is called, so importing this needs no GPU.

// GGUF format
export { GgufFile } from './gguf/file.js';
export { parseGguf, describeType, type ByteSource, type ParseOptions } from './gguf/parse.js';
export { FileByteSource, BufferByteSource } from './gguf/byte-source.js';
export { GGML_TYPES, ggmlTypeById, ggmlTypeByName, ggmlTypeName, tensorByteSize, type GgmlTypeInfo } from './gguf/ggml-types.js';
export { writeGguf, type WriterOptions, type WriterTensor } from './gguf/writer.js';
export * from './gguf/types.js';
export * as limits from './gguf/limits.js';

// CPU reference (bit-exact with ggml)
export {
  decoderFor,
  dequantize,
  isSupportedType,
  SUPPORTED_TYPE_IDS,
  referenceMatmul,
  nmse,
  f16ToF32,
  f32ToF16,
  type TypeDecoder,
  type BlockDecoder,
} from './quant/index.js';
export { createCpuBackend, requireDecoder, tensorRows, type DequantBackend } from './dequant.js';
export { fileTensor, generatedTensor, type TensorSource } from './tensor-source.js';
export { compareF32, referenceOutput, NMSE_BAR, type DequantCheck } from './verify.js';
export { npyHeader, parseNpy, NpyWriter, type NpyDtype } from './npy.js';

// GPU: raw blocks up, fused dequant + matmul there
export { Gpu, DeviceBuffer, type DeviceInfo } from './gpu/device.js';
export { uploadTensor, uploadTensors, type DeviceTensor, type UploadReport } from './gpu/loader.js';
export { packWeights, gpuMatmul, PackedWeights, type MatmulRun } from './gpu/matmul.js';
export { createGpuDequantBackend, type GpuDequantOptions } from './gpu/dequant-backend.js';

// Errors (src/cli/exit-codes.ts maps each kind to an exit code)
export * from './errors.js';
