import { closeSync, fstatSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, OutputError, UsageError } from '../src/errors.js';
import { checkOutputs, makeOutputDir, npyHeader, NpyWriter, parseNpy, refuseUnwritable, refuseUnwritableDir } from '../src/npy.js';
import { tempDir } from './cli/helpers.js';

/** A .npy file of format `version` with this header dict (as given, unpadded) and `data`. */
function npy(dict: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const text = Buffer.from(dict, version === 3 ? 'utf8' : 'latin1');
  const head = Buffer.alloc(version === 1 ? 10 : 12);
  head.set([0x93, ...Buffer.from('NUMPY'), version, 0]);
  if (version === 1) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  return Buffer.concat([head, text, data]);
}
const floats = (n: number) => new Uint8Array(new Float32Array(n).map((_, i) => i + 0.5).buffer);
const plain = (r: { dtype: string; shape: number[]; data: Uint8Array }) => ({ ...r, data: [...r.data] });
const refused = (bytes: Uint8Array, reason: string) => expect(() => parseNpy(bytes, 'x.npy')).toThrow(new InputError('x.npy', reason));
const notADict = 'the .npy header is not a dict of descr, fortran_order and shape as numpy writes it';

describe('npyHeader', () => {
  it('writes the header numpy writes: a 1-tuple with its comma, the whole padded to 64 bytes', () => {
    const text = (shape: number[]) => Buffer.from(npyHeader('f32', shape).subarray(10)).toString('latin1');
    expect(text([5])).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(5,\), \} *\n$/);
    expect(text([2, 3])).toContain("'shape': (2, 3), }");
    expect(text([])).toContain("'shape': (), }");
    expect(Buffer.from(npyHeader('f16', [7])).toString('latin1')).toContain("'descr': '<f2'");
    for (const shape of [[], [5], [2, 3], [1, 2, 3, 4], [1000, 3, 7], [12345, 67]]) {
      const h = npyHeader('f32', shape);
      expect(h.length % 64, shape.join()).toBe(0);
      expect(new DataView(h.buffer).getUint16(8, true)).toBe(h.length - 10);
      expect(parseNpy(Buffer.concat([h, new Uint8Array(4 * shape.reduce((a, b) => a * b, 1))])).shape).toEqual(shape);
    }
  });
});

describe('parseNpy', () => {
  it('reads format versions 1, 2 and 3, f32 and f16', () => {
    for (const version of [1, 2, 3]) {
      const r = parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", floats(6), version));
      expect(plain(r), `v${version}`).toEqual({ dtype: 'f32', shape: [2, 3], data: [...floats(6)] });
    }
    expect(parseNpy(npy("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", new Uint8Array(8)))).toMatchObject({ dtype: 'f16', shape: [4] });
    // version 2 exists for headers of 64 KiB and more: its 4-byte length is read whole
    const long = npy(`{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }${' '.repeat(70_000)}\n`, floats(2), 2);
    expect(plain(parseNpy(long))).toEqual({ dtype: 'f32', shape: [2], data: [...floats(2)] });
  });

  it('reads a dict written with other spacing, with or without the trailing comma', () => {
    for (const dict of [
      "{'descr':'<f4','fortran_order':False,'shape':(2,3)}",
      "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 3 ) ,   }",
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
    ]) {
      expect(parseNpy(npy(dict, floats(6))).shape, dict).toEqual([2, 3]);
    }
  });

  it('refuses what is not a .npy file, or a version numpy does not write', () => {
    const good = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats(1));
    refused(good.subarray(0, 9), 'not a .npy file');
    refused(Buffer.concat([Buffer.from([0x94]), good.subarray(1)]), 'not a .npy file');
    refused(Buffer.concat([good.subarray(0, 1), Buffer.from('NUMPX'), good.subarray(6)]), 'not a .npy file');
    for (const version of [0, 4, 9]) {
      const bytes = good.slice();
      bytes[6] = version;
      refused(bytes, `.npy format version ${version} is not one numpy writes (1 to 3)`);
    }
  });

  it('refuses a header longer than the file', () => {
    refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(0), 2).subarray(0, 11), 'truncated .npy header');
    const v1 = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats(1));
    refused(v1.subarray(0, 40), 'truncated .npy header');
  });

  it('refuses other dtypes, Fortran order and shapes that are not plain safe integers', () => {
    const dict = (descr: string, fortran: string, shape: string) => `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
    refused(npy(dict("'<f8'", 'False', '(2,)'), new Uint8Array(16)), 'unsupported .npy dtype <f8 (need <f4 or <f2)');
    refused(npy(dict("'>f4'", 'False', '(2,)'), new Uint8Array(8)), 'unsupported .npy dtype >f4 (need <f4 or <f2)');
    refused(npy(dict("'<f4'", 'True', '(2, 2)'), new Uint8Array(16)), 'Fortran-order .npy files are not supported');
    refused(npy(dict("'<f4'", "'False'", '(2,)'), new Uint8Array(8)), notADict);
    refused(npy(dict("'<f4'", 'False', '(2,,3)'), new Uint8Array(24)), notADict);
    refused(npy(dict("'<f4'", 'False', '(2 3, 4)'), new Uint8Array(96)), notADict);
    refused(npy(dict("'<f4'", 'False', '(100000000000000000000, 0)')), 'bad .npy shape (100000000000000000000, 0)');
  });

  it('refuses a dict with anything around it, or a key more', () => {
    const good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    refused(npy(`x${good}`, floats(2)), notADict);
    refused(npy(`${good}x`, floats(2)), notADict);
    refused(npy(`${good}}`, floats(2)), notADict);
    refused(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': True, }", floats(2)), notADict);
    refused(npy("{'descr': '<f4', 'descr': '<f4', 'shape': (2,), }", floats(2)), notADict);
  });

  it('refuses data shorter or longer than the shape says, saying by how much', () => {
    const dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }";
    refused(npy(dict, floats(7)), '.npy data is truncated: need 32 bytes');
    refused(npy(dict, floats(9)), "4 bytes follow the array's 32");
    expect(parseNpy(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }")).data).toHaveLength(0);
  });
});

describe('output checks', () => {
  it('names the first three outputs that exist, and how many more', () => {
    const dir = tempDir();
    const paths = ['a', 'b', 'c', 'd', 'e'].map((n) => join(dir, `${n}.npy`));
    paths.forEach((p) => writeFileSync(p, ''));
    expect(() => checkOutputs(paths.slice(0, 1), false)).toThrow(new UsageError(`${paths[0]} exists (use --force to overwrite)`));
    expect(() => checkOutputs(paths.slice(0, 3), false)).toThrow(new UsageError(`${paths.slice(0, 3).join(', ')} exist (use --force to overwrite)`));
    expect(() => checkOutputs(paths, false)).toThrow(new UsageError(`${paths.slice(0, 3).join(', ')} and 2 more exist (use --force to overwrite)`));
    expect(() => checkOutputs(paths, true)).not.toThrow();
    expect(() => checkOutputs([join(dir, 'new.npy')], false)).not.toThrow();
  });

  it('names a directory given as a file output, and the path where an output directory cannot be made', () => {
    const dir = tempDir();
    expect(() => refuseUnwritable(dir)).toThrow(new OutputError(dir, 'illegal operation on a directory (EISDIR)'));
    const file = join(dir, 'file');
    writeFileSync(file, '');
    // a file where the directory should be: named as given; a file above it: that file is named
    expect(() => refuseUnwritableDir(`${file}/.`)).toThrow(new OutputError(`${file}/.`, 'not a directory (ENOTDIR)'));
    expect(() => refuseUnwritableDir(join(file, 'sub', 'deeper'))).toThrow(new OutputError(file, 'not a directory (ENOTDIR)'));
    expect(() => refuseUnwritableDir(join(dir, 'new', 'deeper'))).not.toThrow();
  });

  it('makes an output directory and its missing parents, and refuses a file in the way', () => {
    const dir = tempDir();
    makeOutputDir(join(dir, 'a', 'b', 'c'));
    expect(statSync(join(dir, 'a', 'b', 'c')).isDirectory()).toBe(true);
    makeOutputDir(join(dir, 'a', 'b', 'c')); // already there
    writeFileSync(join(dir, 'file'), '');
    expect(() => makeOutputDir(join(dir, 'file'))).toThrow(new OutputError(join(dir, 'file'), 'not a directory (ENOTDIR)'));
    expect(() => makeOutputDir(join(dir, 'file', 'sub'))).toThrow(new OutputError(join(dir, 'file', 'sub'), 'not a directory (ENOTDIR)'));
  });
});

describe('NpyWriter', () => {
  const openFds = () => readdirSync('/proc/self/fd').length;

  it('refuses to replace an existing file unless told to', () => {
    const path = join(tempDir(), 'y.npy');
    writeFileSync(path, 'old');
    expect(() => new NpyWriter(path, 'f32', [1], false)).toThrow(UsageError);
    expect(readFileSync(path, 'utf8')).toBe('old');
    const w = new NpyWriter(path, 'f32', [1], true);
    w.write(floats(1));
    w.commit();
    expect([...parseNpy(readFileSync(path)).data]).toEqual([...floats(1)]);
  });

  it('writes through a temporary name that keeps the start of a long name, cut between UTF-8 characters', () => {
    const dir = tempDir();
    const name = `a${'é'.repeat(100)}.npy`; // 205 bytes: byte 160 is inside an é
    const w = new NpyWriter(join(dir, name), 'f32', [1], false);
    try {
      const [temp] = readdirSync(dir);
      expect(temp).toMatch(new RegExp(`^a${'é'.repeat(79)}\\.partial-${process.pid}-[0-9a-f]{12}$`));
    } finally {
      w.abort();
    }
    expect(readdirSync(dir)).toEqual([]);
    const short = new NpyWriter(join(dir, 'short.npy'), 'f32', [1], false);
    expect(readdirSync(dir)[0]).toMatch(/^short\.npy\.partial-/);
    short.abort();
  });

  it('removes its temporary file and closes it when the fill fails, leaving the target as it was', async () => {
    const dir = tempDir();
    const path = join(dir, 'y.npy');
    const before = openFds();
    await expect(NpyWriter.writeFile(path, 'f32', [2], false, (w) => {
      w.write(floats(1));
      throw new Error('fill failed');
    })).rejects.toThrow('fill failed');
    expect(readdirSync(dir)).toEqual([]);
    expect(openFds()).toBe(before);
    await NpyWriter.writeFile(path, 'f32', [2], false, (w) => w.write(floats(2)));
    expect(plain(parseNpy(readFileSync(path)))).toEqual({ dtype: 'f32', shape: [2], data: [...floats(2)] });
  });

  it('does nothing when aborted again or after its commit, not even to a file opened since on the same descriptor', () => {
    const dir = tempDir();
    const committed = new NpyWriter(join(dir, 'a.npy'), 'f32', [1], false);
    committed.write(floats(1));
    committed.commit();
    const other = openSync(join(dir, 'a.npy'), 'r');
    try {
      expect(other).toBe((committed as unknown as { fd: number }).fd); // the descriptor the writer had, free again
      committed.abort();
      expect(fstatSync(other).isFile()).toBe(true);
    } finally {
      closeSync(other);
    }
    const aborted = new NpyWriter(join(dir, 'b.npy'), 'f32', [1], false);
    aborted.abort();
    const again = openSync(join(dir, 'a.npy'), 'r');
    try {
      expect(again).toBe((aborted as unknown as { fd: number }).fd);
      aborted.abort();
      expect(fstatSync(again).isFile()).toBe(true);
    } finally {
      closeSync(again);
    }
    expect(readdirSync(dir)).toEqual(['a.npy']);
  });
});
