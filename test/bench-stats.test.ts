import { describe, expect, it } from 'vitest';
import { timing } from '../src/bench/stats.js';

describe('timing', () => {
  it('gives the middle sample of an odd count, with the least, the greatest and the count', () => {
    expect(timing([7])).toEqual({ us: 7, min: 7, max: 7, samples: 1 });
    expect(timing([5, 1, 3])).toEqual({ us: 3, min: 1, max: 5, samples: 3 });
    expect(timing([9, 2, 4, 8, 1])).toEqual({ us: 4, min: 1, max: 9, samples: 5 });
  });

  it('gives the mean of the two middle samples of an even count', () => {
    expect(timing([4, 1, 3, 2])).toEqual({ us: 2.5, min: 1, max: 4, samples: 4 });
    expect(timing([10, 20])).toEqual({ us: 15, min: 10, max: 20, samples: 2 });
    expect(timing([1, 1, 9, 100]).us).toBe(5);
  });

  it('orders samples by value, not as text', () => {
    expect(timing([10, 9, 100])).toEqual({ us: 10, min: 9, max: 100, samples: 3 });
    expect(timing([2.5, 10, 1.25, 100])).toEqual({ us: 6.25, min: 1.25, max: 100, samples: 4 });
  });

  it('takes a typed array or any array-like, and leaves the samples as they were', () => {
    const samples = [3, 1, 2];
    expect(timing(samples).us).toBe(2);
    expect(samples).toEqual([3, 1, 2]);
    const typed = new Float64Array([30, 10, 20, 40]);
    expect(timing(typed)).toEqual({ us: 25, min: 10, max: 40, samples: 4 });
    expect([...typed]).toEqual([30, 10, 20, 40]);
    expect(timing({ length: 3, 0: 6, 1: 4, 2: 5 })).toEqual({ us: 5, min: 4, max: 6, samples: 3 });
  });
});
