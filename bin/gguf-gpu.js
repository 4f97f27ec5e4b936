#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// A closed pipe (`gguf-gpu dequant ... | head -1`) ends the printout, not the work: the files being
// written and the exit code still count, so further output is dropped instead of exiting mid-write.
process.stdout.on('error', (error) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
  process.stdout.write = () => true;
});

main(process.argv).then((code) => {
  process.exitCode = code;
});
