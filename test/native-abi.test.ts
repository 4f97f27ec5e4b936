// The koffi prototypes (src/gpu/native.ts) against the C header they bind (kernels/gguf_gpu.h): a
// width or an argument that differs would be silent memory corruption, not an error.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXPECTED_ABI_VERSION, PROTOTYPES } from '../src/gpu/native.js';

const header = readFileSync(new URL('../kernels/gguf_gpu.h', import.meta.url), 'utf8');

/** "int gg_x(int32_t a, const float* b)" -> "int gg_x(int32_t,ptr)": names dropped, pointers alike. */
function normalize(proto: string): string {
  const m = /^(.*?)\b(gg_\w+)\s*\((.*)\)$/s.exec(proto.replace(/\s+/g, ' ').trim())!;
  const kind = (t: string, named: boolean) => {
    if (t.includes('*')) return 'ptr';
    const words = t.trim().split(' ');
    return (named ? words.slice(0, -1) : words).join(' '); // a parameter's last word is its name
  };
  const params = m[3]!.trim();
  const args = params === '' || params === 'void' ? [] : params.split(',').map((a) => kind(a, true));
  return `${kind(m[1]!, false)} ${m[2]}(${args.join(',')})`;
}

describe('the native bindings against kernels/gguf_gpu.h', () => {
  it('have the ABI version and every prototype of the header, argument for argument', () => {
    expect(Number(/#define GG_ABI_VERSION (\d+)/.exec(header)![1])).toBe(EXPECTED_ABI_VERSION);
    const declared = [...header.replace(/\/\*.*?\*\//gs, '').matchAll(/^GG_API\s+([^;]+);/gm)].map((m) => normalize(m[1]!));
    const bound = PROTOTYPES.map(normalize);
    expect(bound.sort()).toEqual(declared.sort());
  });
});
