#!/usr/bin/env node
// Header parsing speed: gguf-gpu's reader against @huggingface/gguf on the same file, same run.
// Usage: npm run build && node scripts/bench-header.js [file]   (default: the Llama-3-8B-shaped
// fixture header, extended sparsely to its full 4.9 GB in a temporary copy)
import { chmodSync, copyFileSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf } from '@huggingface/gguf';
import { GgufFile } from '../dist/gguf/file.js';

let file = process.argv[2];
let cleanup = () => {};
if (!file) {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-bench-'));
  file = join(dir, 'llama3-8b-shape.gguf');
  copyFileSync(new URL('../../shared/fixtures/llama3-8b-shape.header.gguf', import.meta.url).pathname, file);
  chmodSync(file, 0o644);
  truncateSync(file, 4_920_057_984);
  cleanup = () => rmSync(dir, { recursive: true, force: true });
}

async function time(label, fn, reps = 7) {
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(`${label.padEnd(20)} median ${ms[ms.length >> 1].toFixed(0)} ms, best ${ms[0].toFixed(0)} ms, worst ${ms[ms.length - 1].toFixed(0)} ms`);
}

try {
  let n = 0;
  await time('gguf-gpu', () => {
    const f = GgufFile.open(file);
    n = f.tensors.length;
    f.close();
  });
  await time('@huggingface/gguf', async () => {
    const r = await gguf(file, { allowLocalFile: true });
    if (r.tensorInfos.length !== n) throw new Error('tensor counts differ');
  });
} finally {
  cleanup();
}
