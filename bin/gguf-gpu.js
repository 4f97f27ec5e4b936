#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// A closed pipe (`gguf-gpu inspect f | head`) is not an error worth a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv).then((code) => {
  process.exitCode = code;
});
