import { createHash } from 'node:crypto';
import chalk from 'chalk';
import cliProgress from 'cli-progress';
import { formatBytes } from '../bytes.js';
import { InputError } from '../errors.js';
import type { GgufArray, GgufValue } from '../gguf/types.js';

export { formatBytes };

/** 64-bit integers become numbers when exact, strings beyond 2^53. */
export function bigintToJson(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** Whether a metadata value is an array (the other values are scalars and strings). */
export function isArray(value: GgufValue): value is GgufArray {
  return typeof value === 'object' && value !== null && 'elementType' in value;
}

/** Arrays longer than this are shortened unless the user asks for --full. */
const SHORT_ARRAY_LENGTH = 8;

/** Converts a metadata value to plain JSON; long arrays become { length, first } unless full; NaN and
 * infinities become the strings "NaN", "Infinity" and "-Infinity" (JSON.stringify would print null). */
export function metadataToJson(value: GgufValue, full: boolean): unknown {
  if (typeof value === 'bigint') return bigintToJson(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (!isArray(value)) return value;
  const all = value.values as ArrayLike<unknown>;
  const n = full ? all.length : Math.min(all.length, SHORT_ARRAY_LENGTH);
  const items: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const item = all[i] as GgufValue;
    items.push(metadataToJson(item, full));
  }
  return full || all.length <= SHORT_ARRAY_LENGTH ? items : { length: all.length, first: items };
}

/** The shortest decimal that reads back as the same float32 (1e-5, not 0.000009999999747378752). */
function shortestF32(x: number): string {
  for (let p = 1; p < 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(x);
}

/** One line for a metadata value in text mode: long strings and arrays shortened unless `full`. */
export function metadataToText(value: GgufValue, float32 = false, full = false): string {
  if (typeof value === 'string') return printable(JSON.stringify(value.length > 120 && !full ? `${value.slice(0, 117)}...` : value));
  if (typeof value === 'number' && float32) return shortestF32(value);
  if (!isArray(value)) return String(value);
  const all = value.values as ArrayLike<GgufValue>;
  const n = full ? all.length : Math.min(all.length, 4);
  const shown: string[] = [];
  for (let i = 0; i < n; i++) shown.push(metadataToText(all[i]!, value.values instanceof Float32Array, full));
  return `[${shown.join(', ')}${all.length > n ? `, ... (${all.length} items)` : ''}]`;
}

/** Text from a file made safe for a terminal: control characters (escape sequences, newlines) and the
 * invisible ones (zero-width characters, bidi overrides, line separators) as \xNN / \uNNNN, so a hostile
 * tensor name cannot clear the screen, forge an extra line or pass for another name. */
export function printable(text: string): string {
  // control (Cc) and format (Cf: zero-width, bidi, tags) characters, line and paragraph separators,
  // and the blank Hangul fillers
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/gu, (c) => {
    const code = c.codePointAt(0)!;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : code < 0x10000 ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** Names and keys longer than this are shortened in text output (ggml's are under 64; a hostile file's
 * thousands of 8192-character names would make tables of gigabytes). --json keeps them whole. */
const MAX_NAME_SHOWN = 160;

/** A tensor name or key from a file as messages show it: past MAX_NAME_SHOWN characters, its start and
 * end with its length and a hash of it between (two long names alike at both ends still differ). */
export function shortName(name: string): string {
  if (name.length <= MAX_NAME_SHOWN) return name;
  const chars = Array.from(name); // cut between characters, never inside a surrogate pair
  if (chars.length <= MAX_NAME_SHOWN) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${chars.slice(0, MAX_NAME_SHOWN - 50).join('')}...(${chars.length} characters, #${hash})...${chars.slice(-20).join('')}`;
}

/** A tensor name or key from a file, for text output: shortName(), then printable(). */
export function printableName(name: string): string {
  return printable(shortName(name));
}

const MAX_PAD = 80;

// eslint-disable-next-line no-control-regex
const SGR = /\u001b\[[0-9;]*m/g;
const COMBINING = /^[\p{Mn}\p{Me}]$/u;
// East Asian wide and fullwidth characters, and emoji shown as pictures: two columns each
const WIDE = /^[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f680}-\u{1f6ff}\u{1f900}-\u{1f9ff}\u{1fa70}-\u{1faff}\u{20000}-\u{3fffd}]$/u;

/** Columns on a terminal: chalk's colour codes take none, combining marks none, wide characters two
 * (text from a file has been through printable(), so no control characters are left). */
export function displayWidth(text: string): number {
  const plain = text.replace(SGR, '');
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(plain)) return plain.length;
  let width = 0;
  for (const c of plain) width += COMBINING.test(c) ? 0 : WIDE.test(c) ? 2 : 1;
  return width;
}

/**
 * A plain text table: left-aligned text columns, right-aligned numeric ones. Cells may be coloured
 * (chalk); text that comes from a file must go through printable() first.
 */
export function table(headers: string[], rows: (string | number)[][], rightAligned: boolean[] = []): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  // a loop, not Math.max(...column): a spread of 200k rows overflows the stack. A column is padded to
  // at most MAX_PAD characters: longer cells stick out, and one huge name cannot pad every row to it.
  const widths = headers.map((_, c) => cells.reduce((w, r) => Math.max(w, Math.min(MAX_PAD, displayWidth(r[c] ?? ''))), 0));
  const line = (r: string[]) =>
    r
      .map((cell, c) => {
        const pad = ' '.repeat(Math.max(0, widths[c]! - displayWidth(cell)));
        return rightAligned[c] ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [chalk.bold(line(headers)), ...cells.slice(1).map(line)].join('\n');
}

/** A progress bar over bytes on stderr, or a no-op when stderr is not a terminal. */
interface Progress {
  update(done: number, label?: string): void;
  /** Writes a line to stdout above the bar, which carries on below it. */
  log(line: string): void;
  stop(): void;
}

export function progressBar(total: number, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled || total <= 0) return { update() {}, log: (line) => void process.stdout.write(line), stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: '{bar} {percentage}% | {done}/{size} | ETA {eta_formatted} | {label}',
      // no terminal modes to restore: a signal during synchronous work (the CPU reference) ends the process
      // before any stop() could run
      hideCursor: false,
      linewrap: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let done = 0;
  let label = '';
  const payload = () => ({ done: formatBytes(done), size: formatBytes(total), label: printableName(label) });
  bar.start(total, 0, payload());
  return {
    update(d, l = '') {
      done = d;
      label = l;
      bar.update(done, payload());
    },
    log(line) {
      bar.stop(); // clears the bar's line
      process.stdout.write(line);
      bar.start(total, done, payload());
    },
    stop() {
      bar.stop();
    },
  };
}

/** A list of names for a one-line message: the first `most`, then how many more. */
export function nameList(names: readonly string[], most = 10): string {
  const shown = names.slice(0, most).join(', ');
  return names.length > most ? `${shown} and ${names.length - most} more` : shown;
}

/** This run's --json state: whether the command asked for JSON (undefined until its options are parsed),
 * and whether its one document is out (an error that follows a report, such as a failed verification,
 * adds no second document). */
export const jsonRun: { requested: boolean | undefined; written: boolean } = { requested: undefined, written: false };

/** A JSON document as it is printed: indented, with a final line feed. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The JSON document of a failed --json run: { error: { kind, exitCode, message, ...details } }. */
export function errorDocument(kind: string, exitCode: number, message: string, details: Record<string, unknown> = {}): { error: Record<string, unknown> } {
  return { error: { kind, exitCode, message, ...details } };
}

/** Writes the command's one JSON document to stdout. A report over V8's longest string (~512 M characters:
 * a hostile file's thousands of long names, each control character escaped six times) is the file's
 * fault: an InputError naming it. */
export function writeJsonDocument(value: unknown, file?: string): void {
  let json: string;
  try {
    json = jsonText(value);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new InputError(file, 'the report is too large to print as one JSON document');
  }
  jsonRun.written = true;
  process.stdout.write(json);
}
