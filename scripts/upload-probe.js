#!/usr/bin/env node
// Where does host -> GPU upload time go? One GPU-host call (device time is scarce):
//   bash .gpu/run node scripts/upload-probe.js            (after npm run build:kernels:quick)
// Prints, per setting (PROBE_SETTINGS: comma-separated fill threads x piece KiB), the bandwidth of: gg_upload from ordinary (pageable) memory,
// gg_upload_file from a file in the page cache in one call, and the same file in 32 MiB calls (the
// size of one weight matrix), each against the pinned-buffer bandwidth measured in the same process.
// Each setting runs in a child process, because the library reads GG_UPLOAD_THREADS and
// GG_UPLOAD_PIECE_KB once.
import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BYTES = 1 << 30;
const CALL = 32 << 20;
/** The size of the loader's test file, where ramping up and draining count. */
const SHORT = 176 << 20;

async function child(path) {
  const { Gpu } = await import('../dist/gpu/device.js');
  const gpu = Gpu.open();
  const host = new Uint8Array(BYTES);
  for (let i = 0; i < BYTES; i += 4096) host[i] = i & 255; // touch every page
  const dev = gpu.alloc(BYTES);
  const fd = openSync(path, 'r');
  const best = (f, bytes = BYTES) => {
    f(); // warm-up: staging buffers, threads, page cache
    let t = Infinity;
    for (let i = 0; i < 3; i++) {
      const s = process.hrtime.bigint();
      f();
      gpu.synchronize();
      t = Math.min(t, Number(process.hrtime.bigint() - s) / 1e9);
    }
    return bytes / t / 1e9;
  };
  try {
    const pinned = new Float64Array(1);
    gpu.check(gpu.lib.gg_bench_upload(256 << 20, 5, pinned), 'timing pinned uploads');
    const r = {
      pinned: pinned[0] / 1e9,
      memory: best(() => gpu.upload(dev, host)),
      fileOneCall: best(() => gpu.uploadFile(dev, fd, 0, BYTES, 0)),
      file32MiB: best(() => {
        for (let o = 0; o < BYTES; o += CALL) gpu.uploadFile(dev, fd, o, Math.min(CALL, BYTES - o), o);
      }),
      fileShort: best(() => gpu.uploadFile(dev, fd, 0, SHORT, 0), SHORT),
    };
    process.stdout.write(JSON.stringify(r));
  } finally {
    closeSync(fd);
    dev.dispose();
  }
}

function main() {
  const dir = mkdtempSync(join(tmpdir(), 'gguf-gpu-upload-probe-'));
  const path = join(dir, 'data.bin');
  try {
    const chunk = new Uint8Array(64 << 20).map((_, i) => (i * 2654435761) >>> 24);
    for (let o = 0; o < BYTES; o += chunk.length) writeFileSync(path, chunk, { flag: o === 0 ? 'w' : 'a' });
    const self = fileURLToPath(import.meta.url);
    console.log('threads  piece KiB  pinned GB/s  memory GB/s  file 1 call  file 32 MiB calls  file 176 MiB');
    const settings = (process.env.PROBE_SETTINGS ?? '8x1024,12x1024,16x1024,12x512,12x2048')
      .split(',')
      .map((s) => s.split('x').map(Number));
    for (const [threads, piece] of settings) {
      const env = { ...process.env, GG_UPLOAD_THREADS: String(threads), GG_UPLOAD_PIECE_KB: String(piece) };
      const out = spawnSync(process.execPath, [self, '--child', path], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
      // GG_UPLOAD_TRACE=1: the library's per-call lines go to PROBE_TRACE_FILE (default upload-trace.txt)
      if (process.env.GG_UPLOAD_TRACE && process.env.GG_UPLOAD_TRACE !== '0') appendFileSync(process.env.PROBE_TRACE_FILE ?? 'upload-trace.txt', `# ${threads}x${piece}\n${out.stderr}`);
      if (out.status !== 0) {
        console.error(out.stderr.trim() || `child exited ${out.status}`);
        process.exit(out.status ?? 1);
      }
      const r = JSON.parse(out.stdout);
      const pct = (v) => `${v.toFixed(1)} (${Math.round((100 * v) / r.pinned)}%)`;
      console.log(
        [String(threads).padStart(7), String(piece).padStart(9), r.pinned.toFixed(1).padStart(11), pct(r.memory).padStart(12), pct(r.fileOneCall).padStart(12), pct(r.file32MiB).padStart(18), pct(r.fileShort).padStart(12)].join('  '),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  try {
    await child(process.argv[3]);
  } catch (error) {
    console.error(`upload-probe: ${error.message}`);
    process.exit(4);
  }
}
else main();
