// Ctrl-C during work that writes files. Only there is a handler installed: elsewhere a signal keeps its
// default action and stops the process at once, even inside a long synchronous or native call (a JS
// handler runs only when the event loop turns, so it would wait for the call to end).
import { writeSync } from 'node:fs';
import { NpyWriter } from '../npy.js';
import { ExitCode } from './exit-codes.js';
import { jsonRun } from './format.js';

/**
 * Runs `work` (which must await between its steps) with SIGINT and SIGTERM handled: the .npy files
 * being written are removed, a --json run gets an error document if its report is not out, stderr gets
 * one line, and the exit code is 130.
 */
export async function interruptible<T>(work: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals) => {
    NpyWriter.abortAll();
    if (jsonRun.requested && !jsonRun.written) {
      const error = { kind: 'interrupted', exitCode: ExitCode.interrupted, message: `stopped by ${signal}` };
      writeQuietly(1, `${JSON.stringify({ error }, null, 2)}\n`);
    }
    writeQuietly(2, `gguf-gpu: stopped by ${signal}\n`);
    process.exit(ExitCode.interrupted);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** A synchronous write that may fail (a closed pipe): in a signal handler there is no later. */
function writeQuietly(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {}
}
