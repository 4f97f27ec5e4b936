import { GpuError } from '../../src/errors.js';
import { Gpu } from '../../src/gpu/device.js';

/** Opens the GPU once per test file, or returns the reason there is none (the suite then skips). */
export function openGpuOrReason(): { gpu?: Gpu; reason?: string } {
  try {
    return { gpu: Gpu.open() };
  } catch (error) {
    if (!(error instanceof GpuError)) throw error;
    const reason = `GPU tests skipped: ${error.message}`;
    // Loud on purpose: a skipped GPU suite must never pass silently.
    process.stderr.write(`\n*** ${reason}\n\n`);
    return { reason };
  }
}
