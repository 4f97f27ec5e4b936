import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import chalk from 'chalk';
import { describe, expect, it } from 'vitest';
import { npyFileName } from '../../src/cli/commands/dequant.js';
import { displayWidth, printable, shortName, table, writeJsonDocument } from '../../src/cli/format.js';
import { globMatch } from '../../src/cli/options.js';
import { writeGguf } from '../../src/gguf/writer.js';
import { GgufValueType } from '../../src/gguf/types.js';
import { InputError, OutputError } from '../../src/errors.js';
import { parseNpy, refuseUnwritable } from '../../src/npy.js';
import { cli, QUANTS, ROOT, tempDir } from './helpers.js';

/** A file of F32 tensors [4] named `names`, tensor i filled with i + 1. */
function namedTensors(names: string[]): string {
  const path = join(tempDir(), 'names.gguf');
  const tensors = names.map((name, i) => ({ name, typeId: 0, shape: [4], data: new Uint8Array(new Float32Array(4).fill(i + 1).buffer) }));
  writeFileSync(path, writeGguf({ tensors }));
  return path;
}

describe('names from a hostile file', () => {
  it('dequant gives every tensor its own file: separators, long names and case differences', () => {
    const long = 'x'.repeat(300);
    const names = ['a/b', 'a_b', '..', long, 'blk.0.attn_q.weight', '../../etc/x', '.hidden', '', '-rf'];
    const out = tempDir();
    const r = cli(['dequant', namedTensors(names), '--backend', 'cpu', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const files = JSON.parse(r.stdout).tensors.map((t: { path: string }) => t.path.slice(out.length + 1));
    expect(files[1]).toBe('a_b.npy');
    expect(files[4]).toBe('blk.0.attn_q.weight.npy');
    expect(files[0]).toMatch(/^a_b-[0-9a-f]{8}\.npy$/);
    // never a hidden file, nor '..', nor a name that reads as an option
    expect(files.slice(5)).toEqual([expect.stringMatching(/^_\.\._\.\._etc_x-[0-9a-f]{8}\.npy$/), expect.stringMatching(/^_\.hidden-[0-9a-f]{8}\.npy$/), expect.stringMatching(/^_-[0-9a-f]{8}\.npy$/), expect.stringMatching(/^_-rf-[0-9a-f]{8}\.npy$/)]);
    expect(files[2]).toMatch(/^_\.\.-[0-9a-f]{8}\.npy$/);
    expect(files[3]).toMatch(new RegExp(`^x{200}-[0-9a-f]{8}\\.npy$`));
    expect(readdirSync(out).sort()).toEqual([...files].sort());
    files.forEach((f: string, i: number) => {
      expect(new Float32Array(new Uint8Array(parseNpy(readFileSync(join(out, f))).data).buffer)[0], f).toBe(i + 1);
    });
    // names that differ only in case, and a name forged to equal another's hashed form
    const forged = npyFileName('a/b').slice(0, -'.npy'.length);
    const clash = cli(['dequant', namedTensors(['Wq', 'wq', 'a/b', forged]), '--backend', 'cpu', '--out', tempDir(), '--json']);
    expect(clash.code, clash.stderr).toBe(0);
    const paths = JSON.parse(clash.stdout).tensors.map((t: { path: string }) => basename(t.path));
    expect(paths[0]).toBe('Wq.npy');
    expect(paths[1]).toMatch(/^wq-[0-9a-f]{8}\.npy$/);
    expect(paths[2]).toBe(`${forged}.npy`);
    expect(paths[3]).toMatch(new RegExp(`^${forged}-[0-9a-f]{8}\\.npy$`));
  });

  it('prints control characters in names and keys escaped, never raw', () => {
    const path = join(tempDir(), 'ansi.gguf');
    writeFileSync(
      path,
      writeGguf({
        metadata: [{ key: 'k\x1b]0;title\x07', type: GgufValueType.UINT8, value: 1 }],
        tensors: [{ name: 'evil\x1b[2J\nname', typeId: 0, shape: [4], data: new Uint8Array(16) }],
      }),
    );
    const r = cli(['inspect', path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('evil\\x1b[2J\\x0aname');
    expect(r.stdout).toContain('k\\x1b]0;title\\x07');
    expect(r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    const missing = cli(['matmul', path, '-t', 'evil\x1b[2J\nname', '--backend', 'cpu', '--input', '/nonexistent/x.npy']);
    expect(missing.code).toBe(3);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('tables of hundreds of thousands of rows (no spread into Math.max)', () => {
    const rows = Array.from({ length: 300_000 }, (_, i) => [`t${i}`, i]);
    expect(table(['name', 'n'], rows, [false, true]).split('\n')).toHaveLength(300_001);
    expect(printable('a\u009bb\x7f')).toBe('a\\x9bb\\x7f');
    expect(printable('abc\u202edcba\u2028')).toBe('abc\\u202edcba\\u2028');
    expect(printable('a\u061cb\u00adc\u{e0041}d\u3164e')).toBe('a\\u061cb\\xadc\\u{e0041}d\\u3164e');
  });

  it('shows long names shortened in text output (whole in --json), and a JSON report over V8\'s string limit is an InputError', () => {
    const names = [0, 1, 2].map((i) => `${i}`.padStart(8192, '\x01'));
    const path = namedTensors(names);
    const text = cli(['verify', path, '--backend', 'cpu']);
    expect(text.code, text.stderr).toBe(0);
    expect(Math.max(...text.stdout.split('\n').map((l) => l.length))).toBeLessThan(1000); // not 8192 x 4 escapes
    expect(text.stdout).toMatch(/\.\.\.\(8192 characters, #[0-9a-f]{8}\)\.\.\.(\\x01){19}2 /);
    // two long names alike at both ends still read differently
    expect(shortName(`${'x'.repeat(150)}A${'y'.repeat(150)}`)).not.toBe(shortName(`${'x'.repeat(150)}B${'y'.repeat(150)}`));
    expect(shortName('\u{1f999}'.repeat(200))).toMatch(/^(\u{1f999}){110}\.\.\.\(200 characters, #[0-9a-f]{8}\)\.\.\.(\u{1f999}){20}$/u);
    const json = cli(['verify', path, '--backend', 'cpu', '--json']);
    expect(JSON.parse(json.stdout).tensors.filter((t: { tensor: string }) => names.includes(t.tensor))).toHaveLength(3);
    expect(() => writeJsonDocument({ toJSON: () => { throw new RangeError('Invalid string length'); } }, 'x.gguf')).toThrow(InputError);
  });

  it('tables pad by terminal columns: wide characters take two, combining marks none', () => {
    expect(displayWidth('模型.weight')).toBe(11);
    expect(displayWidth('cafe\u0301')).toBe(4);
    expect(displayWidth('\u{1f999}x')).toBe(3);
    expect(displayWidth('한국어')).toBe(6);
    const lines = table(['name', 'n'], [['模型', '1'], ['abcd', '2'], ['cafe\u0301s', '3']]).split('\n');
    expect(lines.slice(1)).toEqual(['模型   1', 'abcd   2', 'cafe\u0301s  3']);
  });

  it('tables pad coloured cells by what shows, and bold the header without its padding', () => {
    const level = chalk.level;
    chalk.level = 1;
    try {
      const lines = table(['name', 'status'], [['x', chalk.green('ok')], ['a-long-name', 'FAIL']]).split('\n');
      expect(lines[0]).toBe(chalk.bold('name         status'));
      expect(lines[1]).toBe(`x            ${chalk.green('ok')}`);
    } finally {
      chalk.level = level;
    }
  });
});

describe('outputs that cannot be written, and products too large', () => {
  it('refuseUnwritable (bench --plot checks its path before benching) names the path and the reason', () => {
    const dir = tempDir();
    expect(() => refuseUnwritable(join(dir, 'plot.svg'))).not.toThrow();
    writeFileSync(join(dir, 'old.svg'), '');
    expect(() => refuseUnwritable(join(dir, 'old.svg'))).not.toThrow();
    expect(() => refuseUnwritable('/nonexistent/dir/plot.svg')).toThrow(/^\/nonexistent\/dir\/plot\.svg: cannot write: no such file or directory \(ENOENT\)$/);
    expect(() => refuseUnwritable(dir)).toThrow(OutputError);
    expect(() => refuseUnwritable(dir)).toThrow(/EISDIR/);
    if (process.getuid?.() !== 0) expect(() => refuseUnwritable('/proc/plot.svg')).toThrow(OutputError);
  });

  it('exits 5 naming the path when an output cannot be written', () => {
    const m = cli(['matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '--backend', 'cpu', '--out', '/nonexistent/dir/y.npy']);
    expect(m.code, m.stderr).toBe(5);
    expect(m.stderr).toMatch(/\/nonexistent\/dir\/y\.npy: cannot write: no such file or directory \(ENOENT\)$/m);
    const notDir = join(tempDir(), 'file');
    writeFileSync(notDir, '');
    const d = cli(['dequant', QUANTS, '--backend', 'cpu', '-t', 'blk.2.q4_0.edge', '--out', notDir]);
    expect(d.code, d.stderr).toBe(5);
    expect(d.stderr).toMatch(/file: cannot write: not a directory \(ENOTDIR\)/);
  });

  it('never renames over a device, FIFO or directory; a directory is exit 5 with or without --force, before any work', () => {
    const dir = tempDir();
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const devLink = join(dir, 'null.npy');
    symlinkSync('/dev/null', devLink); // were the fix undone, only this link would be replaced
    const args = ['matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '--backend', 'cpu'];
    for (const target of [fifo, devLink]) {
      const r = cli([...args, '--out', target, '--force']);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(/cannot write: not a regular file/);
    }
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(lstatSync(devLink).isSymbolicLink()).toBe(true);
    for (const force of [[], ['--force']]) {
      const r = cli([...args, '--out', dir, ...force]);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(/cannot write: is a directory$/m);
    }
    // on the GPU path too, before the GPU opens: exit 5, not 4 (no library here)
    const noGpu = { GGUF_GPU_LIB: '/nonexistent/libgguf_gpu.so' };
    expect(cli(['matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '--out', '/nonexistent/dir/y.npy'], noGpu).code).toBe(5);
    const notDir = join(dir, 'plain');
    writeFileSync(notDir, '');
    expect(cli(['dequant', QUANTS, '-t', 'blk.2.q4_0.edge', '--out', join(notDir, 'sub')], noGpu).code).toBe(5);
    expect(readdirSync(dir).sort()).toEqual(['fifo', 'null.npy', 'plain']);
  });

  it('treats a link it cannot follow as an existing file, and refuses a path ending in / before any work', () => {
    const dir = tempDir();
    const loop = join(dir, 'loop.npy');
    symlinkSync('loop.npy', loop); // a link to itself: stat fails with ELOOP
    const args = ['matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '--backend', 'cpu', '--out'];
    const refused = cli([...args, loop]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/loop\.npy exists \(use --force to overwrite\)/);
    expect(cli([...args, loop, '--force']).code).toBe(0); // the rename replaces the link
    expect(parseNpy(readFileSync(loop)).shape).toEqual([1, 8]);
    const slash = cli([...args, join(dir, 'new') + '/']);
    expect(slash.code, slash.stderr).toBe(5);
    expect(slash.stderr).toMatch(/names a directory \(it ends in \/\)/);
    expect(readdirSync(dir)).toEqual(['loop.npy']);
  });

  it('multiplies by a tensor whose name is empty (-t \'\' is a name, not a missing value), and names it "" in errors', () => {
    const path = join(tempDir(), 'empty-name.gguf');
    writeFileSync(path, writeGguf({ tensors: [{ name: '', typeId: 0, shape: [4, 2], data: new Uint8Array(32) }] }));
    const r = cli(['matmul', path, '-t', '', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const cut = join(tempDir(), 'empty-name-cut.gguf');
    writeFileSync(cut, readFileSync(path).subarray(0, -8));
    expect(cli(['matmul', cut, '-t', '', '--backend', 'cpu']).stderr).toMatch(/tensor "": /);
  });

  it('writes an output whose name is near the 255-byte limit (the temporary name is shortened)', () => {
    const out = join(tempDir(), `${'a'.repeat(240)}.npy`);
    const r = cli(['matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '--backend', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(parseNpy(readFileSync(out)).shape).toEqual([1, 8]);
  });

  it('refuses an empty argument or option value (an unset variable), and a second --tensor for matmul, as usage errors', () => {
    for (const args of [['inspect', ''], ['matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '--backend', 'cpu', '--input', ''], ['dequant', QUANTS, '--out', '']]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/an empty (argument|value)/);
    }
    expect(cli(['bench', '--plot', 'x.png']).stderr).toMatch(/--plot writes a \.svg or \.html file/);
    // an option given twice where one value is taken: its parser refuses it, and --json still gets its document
    const twice = cli(['matmul', QUANTS, '--backend', 'cpu', '-t', 'blk.2.q4_0.edge', '-t', 'blk.2.q8_0.edge', '--json']);
    expect(twice.code).toBe(2);
    expect(JSON.parse(twice.stdout).error.message).toMatch(/--tensor given twice .*: matmul takes one tensor/);
  });

  it('refuses a batch whose x, y and reference would not fit in memory, before allocating them', () => {
    const path = join(tempDir(), 'tall.gguf');
    // Q4_0 [32, 2^20]: 18 MB of weights, y of 2^20 rows a column
    writeFileSync(path, writeGguf({ tensors: [{ name: 'tall', typeId: 2, shape: [32, 2 ** 20], data: new Uint8Array(18 * 2 ** 20) }] }));
    const r = cli(['matmul', path, '-t', 'tall', '--batch', '65536', '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/batch 65536 with tall \[32, 1048576\] needs 1024\.\d GiB .* over the limit of 4 GiB/);
    // one row of 2^26 weights: the decoded row and its chunk count too (5 columns took 4.5 GB past a 4 GiB limit)
    const wide = join(tempDir(), 'wide.gguf');
    writeFileSync(wide, writeGguf({ tensors: [{ name: 'w', typeId: 0, shape: [2 ** 26, 1] }] }));
    truncateSync(wide, 300 << 20); // sparse: the header's promise kept with holes
    const five = cli(['matmul', wide, '-t', 'w', '-n', '5', '--backend', 'cpu']);
    expect(five.code).toBe(2);
    expect(five.stderr).toMatch(/batch 5 with w \[67108864, 1\] needs 4\.5 GiB/);
  });
});

describe('rows longer than the CPU reference takes', () => {
  it('are reported as a tensor that cannot be checked, from a sparse file, without reading it', () => {
    const path = join(tempDir(), 'row.gguf');
    const n = 2 ** 27; // F32: 512 MiB of holes
    const head = writeGguf({ tensors: [{ name: 'long', typeId: 0, shape: [n] }] });
    writeFileSync(path, head);
    truncateSync(path, head.length + 4 * n);
    const v = cli(['verify', path, '--backend', 'cpu']);
    expect(v.code).toBe(3);
    expect(v.stderr).toMatch(/long \(rows of 134217728 weights, over the CPU reference's limit of 67108864\)/);
    const m = cli(['matmul', path, '-t', 'long', '--backend', 'cpu']);
    expect(m.code).toBe(3);
    expect(m.stderr).toMatch(/tensor long: rows of 134217728 weights/);
  });
});

describe('CPU dequantization in chunks of blocks', () => {
  it('writes rows longer than a chunk, serially and on the worker pool, in order', () => {
    for (const n of [3_000_000, 9_000_000]) { // 12 MB (one thread) and 36 MB (the pool): chunks end mid-row
      const dir = tempDir();
      const path = join(dir, 'row.gguf');
      const values = new Float32Array(n).map((_, i) => i * 0.5 - 7);
      writeFileSync(path, writeGguf({ tensors: [{ name: 'row', typeId: 0, shape: [n], data: new Uint8Array(values.buffer) }] }));
      const r = cli(['dequant', path, '--backend', 'cpu', '--out', dir]);
      expect(r.code, r.stderr).toBe(0);
      const npy = parseNpy(readFileSync(join(dir, 'row.npy')));
      expect(npy.shape).toEqual([n]);
      expect(Buffer.compare(Buffer.from(npy.data), Buffer.from(values.buffer)), `${n}`).toBe(0);
    }
  });
});

describe('second round: globs, .npy inputs, planted links, empty tensors', () => {
  it('globs match as * and ? say, in linear time on a name of thousands of dots', () => {
    const cases: [string, string, boolean][] = [
      ['blk.*.weight', 'blk.0.attn_q.weight', true],
      ['blk.?.weight', 'blk.12.weight', false],
      ['*', '', true],
      ['a*b*c', 'aXbYbZc', true],
      ['a*b*c', 'aXbYbZ', false],
      ['*.*.*.weight', `blk.${'.'.repeat(8000)}`, false],
    ];
    const started = performance.now();
    for (const [glob, name, want] of cases) expect(globMatch(glob, name), `${glob} ~ ${name.slice(0, 20)}`).toBe(want);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('reads x.npy as numpy writes it and refuses the rest: spoofed keys, odd numbers, versions, trailing bytes, pipes', () => {
    const dir = tempDir();
    const header = (dict: string, version = 1) => {
      const text = Buffer.from(dict, 'latin1');
      const out = Buffer.alloc(10);
      out.set([0x93, ...Buffer.from('NUMPY'), version, 0]);
      out.writeUInt16LE(text.length, 8);
      return Buffer.concat([out, text]);
    };
    const run = (name: string, bytes: Buffer) => {
      writeFileSync(join(dir, name), bytes);
      return cli(['matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '-b', 'cpu', '-i', join(dir, name)]);
    };
    const good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 256), }";
    expect(run('good.npy', Buffer.concat([header(good), Buffer.alloc(2048)])).code).toBe(0);
    const spoof = "{'x': \"'shape': (1, 256)\", 'descr': '<f4', 'fortran_order': False, 'shape': (2, 256), }";
    for (const [name, bytes] of [
      ['spoof.npy', Buffer.concat([header(spoof), Buffer.alloc(2048)])],
      ['float.npy', Buffer.concat([header("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 256), }"), Buffer.alloc(2048)])],
      ['v9.npy', Buffer.concat([header(good, 9), Buffer.alloc(2048)])],
      ['trailing.npy', Buffer.concat([header(good), Buffer.alloc(4096)])],
    ] as const) {
      const r = run(name, bytes);
      expect(r.code, name).toBe(3);
      expect(r.stderr, name).toMatch(new RegExp(`${name.replace('.', '\\.')}: `));
    }
    // a pipe is read (`-i /dev/stdin`), but only up to what the biggest batch can take
    const piped = spawnSync(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), 'matmul', QUANTS, '-t', 'blk.2.q4_0.edge', '-b', 'cpu', '-i', '/dev/stdin'], {
      input: Buffer.concat([header(good), Buffer.alloc(2048)]),
      encoding: 'utf8',
    });
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toMatch(/x batch 2 on cpu/);
    // a slow writer: fd 0 may be non-blocking, and a synchronous read of it failed with EAGAIN
    const x = join(tempDir(), 'x.npy');
    writeFileSync(x, Buffer.concat([header(good), Buffer.alloc(2048)]));
    const slow = spawnSync('bash', ['-c', `(sleep 0.5; cat ${x}) | node ${join(ROOT, 'bin', 'gguf-gpu.js')} matmul ${QUANTS} -t blk.2.q4_0.edge -b cpu -i -`], { encoding: 'utf8', timeout: 60_000 });
    expect(slow.status, slow.stderr).toBe(0);
    expect(slow.stdout).toMatch(/x batch 2 on cpu/);
    const endless = spawnSync('bash', ['-c', `node ${join(ROOT, 'bin', 'gguf-gpu.js')} matmul ${QUANTS} -t blk.2.q4_0.edge -b cpu -i <(cat /dev/zero)`], { encoding: 'utf8', timeout: 60_000 });
    expect(endless.status).toBe(3);
    expect(endless.stderr).toMatch(/more than 67112960 bytes, more than 65536 rows of 256 float32 can take/);
  });

  it('writes .npy files through fresh temporary names, never through a planted link', () => {
    const dir = tempDir();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    const out = join(dir, 'out');
    mkdirSync(out);
    // links at the old predictable temporary names, and a dangling link at the target
    for (let pid = 1; pid < 64; pid++) symlinkSync(victim, join(out, `blk.2.q4_0.edge.npy.partial-${pid}`));
    symlinkSync(join(dir, 'nowhere'), join(out, 'blk.2.q8_0.edge.npy'));
    const r = cli(['dequant', QUANTS, '-b', 'cpu', '-t', 'blk.2.q4_*', '-t', 'blk.2.q8_0.edge', '--out', out]);
    expect(r.code).toBe(2); // the dangling link counts as an existing file
    expect(r.stderr).toMatch(/blk\.2\.q8_0\.edge\.npy exists/);
    expect(cli(['dequant', QUANTS, '-b', 'cpu', '-t', 'blk.2.q4_*', '--out', out]).code).toBe(0);
    expect(readFileSync(victim, 'utf8')).toBe('keep');
    expect(lstatSync(join(out, 'blk.2.q4_0.edge.npy')).isFile()).toBe(true);
  });

  it('verify counts an empty tensor of a type it decodes as checked, and one of a type it does not as not checked', () => {
    const dir = tempDir();
    const tensors = (typeId: number) => [{ name: 'none', typeId, shape: [0, 32], data: new Uint8Array(0) }, { name: 'some', typeId: 0, shape: [4], data: new Uint8Array(16) }];
    writeFileSync(join(dir, 'empty.gguf'), writeGguf({ tensors: tensors(0) }));
    const r = cli(['verify', join(dir, 'empty.gguf'), '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(join(dir, 'empty-i32.gguf'), writeGguf({ tensors: tensors(26) }));
    const odd = cli(['verify', join(dir, 'empty-i32.gguf'), '--backend', 'cpu']);
    expect(odd.code).toBe(3);
    expect(odd.stderr).toMatch(/none \(type I32 is not supported\)/);
  });

  it('dequant, verify and matmul refuse big-endian tensor data with one reason (its header still reads)', () => {
    const path = join(tempDir(), 'be.gguf');
    writeFileSync(path, writeGguf({ littleEndian: false, tensors: [{ name: 'w', typeId: 0, shape: [256, 2], data: new Uint8Array(2048) }] }));
    expect(cli(['inspect', path]).code).toBe(0);
    for (const args of [['dequant', path, '-b', 'cpu', '--out', tempDir()], ['verify', path, '--backend', 'cpu'], ['matmul', path, '-t', 'w', '-b', 'cpu']]) {
      const r = cli(args);
      expect(r.code, args[0]).toBe(3);
      expect(r.stderr, args[0]).toMatch(/big-endian tensor data cannot be decoded \(only its header can be read\)/);
    }
  });

  it('inspect --json gives NaN and infinities as strings, not as null', () => {
    const path = join(tempDir(), 'nan.gguf');
    writeFileSync(path, writeGguf({
      metadata: [
        { key: 'f.nan', type: GgufValueType.FLOAT32, value: Number.NaN },
        { key: 'f.inf', type: GgufValueType.FLOAT64, value: -Infinity },
        { key: 'f.list', type: GgufValueType.ARRAY, value: { elementType: GgufValueType.FLOAT32, values: new Float32Array([1.5, Infinity, Number.NaN]) } },
      ],
    }));
    const r = cli(['inspect', path, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { metadata } = JSON.parse(r.stdout);
    expect([metadata['f.nan'], metadata['f.inf'], metadata['f.list']]).toEqual(['NaN', '-Infinity', [1.5, 'Infinity', 'NaN']]);
  });

  it('inspect --full refuses to print tens of millions of array elements', () => {
    const path = join(tempDir(), 'big-array.gguf');
    const values = new Uint8Array(1 << 23);
    writeFileSync(path, writeGguf({ metadata: [0, 1].map((i) => ({ key: `a${i}`, type: GgufValueType.ARRAY, value: { elementType: GgufValueType.UINT8, values } })) }));
    const r = cli(['inspect', path, '--full', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--full would print 16777216 array elements, over the limit of 4194304/);
    expect(cli(['inspect', path, '--json']).code).toBe(0);
  });
});

describe('the process around the work', () => {
  it('an output directory that cannot be made is exit 5 at once (Node\'s recursive mkdir spins on /proc)', () => {
    const started = performance.now();
    const r = cli(['dequant', QUANTS, '-b', 'cpu', '-t', 'blk.2.q4_0.edge', '--out', '/proc/gguf-gpu-test/x']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/cannot write: no such file or directory \(ENOENT\)/);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('a closed stdout (| head -1) stops the printout, not the files being written or the exit code', async () => {
    const out = tempDir();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'gguf-gpu.js'), 'dequant', QUANTS, '-b', 'cpu', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.once('data', () => child.stdout.destroy()); // the reader goes away after the first line
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(readdirSync(out).filter((f) => f.endsWith('.npy'))).toHaveLength(25);
    expect(readdirSync(out).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});
