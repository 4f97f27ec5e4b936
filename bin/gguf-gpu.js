#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// A closed pipe (`gguf-gpu dequant ... | head -1`, or `2>&1 | head`) ends the printout, not the work:
// the files being written and the exit code still count, so further output is dropped instead.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    stream.write = () => true;
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
