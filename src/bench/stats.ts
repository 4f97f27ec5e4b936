/** Median and spread of timing samples. */
export interface Timing {
  /** Median microseconds per launch. */
  us: number;
  min: number;
  max: number;
  samples: number;
}

export function timing(samples: ArrayLike<number>): Timing {
  const sorted = Array.from(samples).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const us = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { us, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples: sorted.length };
}
