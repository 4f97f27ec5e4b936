// Ctrl-C while .npy files are written. Until a command starts writing, a signal keeps its default action
// and stops the process at once, even inside a long synchronous or native call. From then on a handler
// removes the partial files first. It is never removed again: a JS handler runs only when the event loop
// turns, and one removed in between would drop a signal that arrived during synchronous work.
import { writeSync } from 'node:fs';
import { NpyWriter } from '../npy.js';
import { ExitCode } from './exit-codes.js';
import { errorDocument, jsonRun, jsonText } from './format.js';

let armed = false;

/**
 * Call before writing .npy files: from now on SIGINT and SIGTERM remove the files being written, give a
 * --json run an error document if its report is not out, write one line on stderr and exit 130.
 */
export function cleanUpOnSignal(): void {
  if (armed) return;
  armed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  NpyWriter.abortAll();
  if (jsonRun.requested && !jsonRun.written) {
    writeQuietly(1, jsonText(errorDocument('interrupted', ExitCode.interrupted, `stopped by ${signal}`)));
  }
  writeQuietly(2, `gguf-gpu: stopped by ${signal}\n`);
  process.exit(ExitCode.interrupted);
}

/** A synchronous write that may fail (a closed pipe): in a signal or stream-error handler there is no later. */
export function writeQuietly(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {}
}
