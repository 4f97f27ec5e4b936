import type { DequantBackend } from '../dequant.js';
import { requireDecoder, yieldToEventLoop } from '../dequant.js';
import { NPY_ITEM_BYTES } from '../npy.js';
import { namingTensor } from '../errors.js';
import { Gpu, type DeviceBuffer } from './device.js';
import { checkVram, uploadTensor } from './loader.js';

export interface GpuDequantOptions {
  /** The device to open (default 0), unless `gpu` is given. */
  device?: number;
  /** An open GPU to use instead (tests pass a stub). */
  gpu?: Gpu;
  /** Output produced per kernel launch and download (default 256 MiB): bounds device scratch. */
  outputChunkBytes?: number;
}

/**
 * GPU dequantization: the raw blocks go to the GPU once, the kernel dequantizes them there, and
 * only the output comes back, in chunks of blocks. A tensor's blocks are contiguous and row after
 * row, so the chunks arrive in row order, and a single row of gigabytes needs no more scratch than
 * small ones.
 */
export function createGpuDequantBackend(deviceOrOptions: number | GpuDequantOptions = {}): DequantBackend {
  const options = typeof deviceOrOptions === 'number' ? { device: deviceOrOptions } : deviceOrOptions;
  const gpu = options.gpu ?? Gpu.open(options.device ?? 0);
  const outputChunkBytes = options.outputChunkBytes ?? 256 << 20;
  return {
    name: 'gpu',
    async dequantizeTensor(file, tensor, dtype, sink, progress) {
      const { info } = requireDecoder(file, tensor);
      const itemBytes = NPY_ITEM_BYTES[dtype];
      const blocks = tensor.elements / info.blockSize;
      // a multiple of 16 blocks keeps every chunk's source as 16-byte aligned as the tensor's start
      const chunkBlocks = Math.max(16, Math.floor(outputChunkBytes / (itemBytes * info.blockSize * 16)) * 16);
      const outBytes = Math.min(blocks, chunkBlocks) * info.blockSize * itemBytes;
      await namingTensor(tensor.name, async () => {
        checkVram(gpu, file.requireSize(tensor) + outBytes, `dequantizing ${tensor.name}`);
        const raw = uploadTensor(gpu, file, tensor, progress);
        let out: DeviceBuffer | undefined;
        try {
          out = gpu.alloc(outBytes, `allocating the output of ${tensor.name}`);
          const host = Buffer.allocUnsafe(outBytes);
          for (let block = 0; block < blocks; block += chunkBlocks) {
            const weights = Math.min(chunkBlocks, blocks - block) * info.blockSize;
            gpu.dequantize(tensor.typeId, raw.buffer, out, 1, weights, dtype, block * info.typeSize);
            const chunk = host.subarray(0, weights * itemBytes);
            gpu.download(out, chunk);
            sink(chunk);
            await yieldToEventLoop();
          }
        } finally {
          out?.dispose();
          raw.buffer.dispose();
        }
      });
    },
    dispose() {},
  };
}
