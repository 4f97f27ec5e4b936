import type { DequantBackend } from '../dequant.js';
import { requireDecoder, tensorRows, yieldToEventLoop } from '../dequant.js';
import { NPY_ITEM_BYTES } from '../npy.js';
import { withTensorName } from '../errors.js';
import { Gpu, type DeviceBuffer } from './device.js';
import { checkVram, uploadTensor } from './loader.js';

/** Output produced per kernel launch and download: bounds device scratch for huge tensors. */
const OUTPUT_CHUNK_BYTES = 256 << 20;

/**
 * GPU dequantization: the raw blocks go to the GPU once, the kernel dequantizes them there, and
 * only the output comes back (in chunks of rows, so tensors of any size fit).
 */
export function createGpuDequantBackend(device = 0): DequantBackend {
  const gpu = Gpu.open(device);
  return {
    name: 'gpu',
    async dequantizeTensor(file, tensor, dtype, sink, progress) {
      const { info } = requireDecoder(file, tensor);
      const { rows, rowLength } = tensorRows(tensor);
      const rowOutBytes = rowLength * NPY_ITEM_BYTES[dtype];
      const rowRawBytes = (rowLength / info.blockSize) * info.typeSize;
      const rowsPerChunk = Math.max(1, Math.floor(OUTPUT_CHUNK_BYTES / Math.max(1, rowOutBytes)));
      const outBytes = Math.min(rows, rowsPerChunk) * rowOutBytes;
      checkVram(gpu, file.requireSize(tensor) + outBytes, `dequantizing ${tensor.name}`);
      const raw = uploadTensor(gpu, file, tensor, progress);
      let out: DeviceBuffer | undefined;
      try {
        out = gpu.alloc(outBytes, `allocating the output of ${tensor.name}`);
        const host = Buffer.allocUnsafe(outBytes);
        for (let row = 0; row < rows; row += rowsPerChunk) {
          const n = Math.min(rowsPerChunk, rows - row);
          gpu.dequantize(tensor.typeId, raw.buffer, out, n, rowLength, dtype, row * rowRawBytes);
          const chunk = host.subarray(0, n * rowOutBytes);
          gpu.download(out, chunk);
          sink(chunk);
          await yieldToEventLoop();
        }
      } catch (error) {
        throw withTensorName(error, tensor.name);
      } finally {
        out?.dispose();
        raw.buffer.dispose();
      }
    },
    dispose() {},
  };
}
