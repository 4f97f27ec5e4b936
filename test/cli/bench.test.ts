import { describe, expect, it } from 'vitest';
import { cli, QUANTS } from './helpers.js';

const NO_GPU = { GGUF_GPU_LIB: '/nonexistent/libgguf_gpu.so' };

describe('gguf-gpu bench without a GPU', () => {
  it('refuses the GPU bench options on the CPU bench instead of ignoring them', () => {
    const r = cli(['bench', '--backend', 'cpu', '--shape', '64x256', '--batch', '0', '--plot', 'x.svg']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--shape, --batch, --plot do not apply to the CPU bench/);
    const file = cli(['bench', QUANTS, '--backend', 'cpu', '--types', 'q4_0']);
    expect(file.code).toBe(2);
    expect(file.stderr).toMatch(/--types does not apply to a file/);
  });

  it('exits 4 with a pointer to --backend cpu where GPU options were given, rather than benching the CPU', () => {
    const r = cli(['bench', '--types', 'q4_0', '--batch', '1'], NO_GPU);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/--backend cpu. benches the CPU decoders instead/);
    expect(r.stdout).toBe('');
  });
});
