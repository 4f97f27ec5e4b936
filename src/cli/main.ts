import { readFileSync } from 'node:fs';
import chalk from 'chalk';
import { Command, CommanderError } from 'commander';
import { fsReason, GgufGpuError, GpuError, InputError, OutputError, UsageError } from '../errors.js';
import { registerBench } from './commands/bench.js';
import { registerDequant } from './commands/dequant.js';
import { registerInspect } from './commands/inspect.js';
import { registerMatmul } from './commands/matmul.js';
import { registerVerify } from './commands/verify.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { writeQuietly } from './interrupt.js';
import { errorDocument, jsonRun, printable, writeJsonDocument } from './format.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function buildProgram(): Command {
  const program = new Command('gguf-gpu')
    .description(
      'Run GGUF-quantized weights on the GPU: read GGUF files, upload the raw quantized blocks, dequantize ' +
        'and multiply on the device, and check every result against a bit-exact CPU reference.',
    )
    .version(packageVersion(), '-V, --version')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  gguf-gpu inspect model.gguf                      # header, metadata and tensor table
  gguf-gpu verify model.gguf                       # GPU against the CPU reference, every tensor
  gguf-gpu matmul model.gguf -t blk.0.ffn_down.weight --batch 8
  gguf-gpu dequant model.gguf -t 'blk.0.*' --out /tmp/blk0
  gguf-gpu bench                                   # fused kernels against the streaming floor

Exit codes: 0 ok, 1 a verification failed (or matmul's NMSE over the bar), 2 usage error, 3 bad input
file or a tensor that could not be handled, 4 no GPU or a GPU error, 5 an output that cannot be written,
130 interrupted (SIGINT; 143 SIGTERM).
Run gguf-gpu <command> --help for each command's options and examples.`,
    );
  registerInspect(program);
  registerDequant(program);
  registerMatmul(program);
  registerVerify(program);
  registerBench(program);
  // commander's own help command prints the whole help as an error for an unknown name, without saying why
  program.helpCommand(false);
  program
    .command('help [command]')
    .description('display help for command')
    .action((name: string | undefined) => {
      const command = name === undefined ? program : program.commands.find((c) => c.name() === name || c.aliases().includes(name));
      if (!command) throw new UsageError(`unknown command '${name}' (the commands: ${program.commands.map((c) => c.name()).join(', ')})`);
      command.outputHelp();
    });
  return program;
}

/** Options that take a path or a name of the library's (an empty --tensor stays: a file may name a tensor ""). */
const NON_EMPTY_OPTIONS = ['out', 'input', 'plot', 'kernel'];

/** An empty file argument or path (`--out "$UNSET"`) is a usage error, not a default or a file named "". */
function refuseEmptyValues(action: Command): void {
  if (action.args.some((a) => a === '')) throw new UsageError(`${action.name()}: an empty argument (an unset variable?)`);
  for (const o of action.options) {
    if (NON_EMPTY_OPTIONS.includes(o.attributeName()) && action.getOptionValue(o.attributeName()) === '') {
      throw new UsageError(`${o.long ?? o.flags}: an empty value (an unset variable?)`);
    }
  }
}

/** --json before any `--`: how a commander error (which comes before any action) knows JSON was asked for. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return argv.slice(2, end < 0 ? undefined : end).includes('--json');
}

/** The error as the JSON document of a failed --json run. */
function errorDocumentFor(error: unknown, exitCode: number): { error: Record<string, unknown> } {
  const kind = error instanceof GgufGpuError ? error.kind : error instanceof CommanderError ? 'usage' : 'unexpected';
  const message =
    error instanceof CommanderError
      ? error.code === 'commander.help' ? 'no command given' : error.message.replace(/^error: /, '')
      : ((error as Error)?.message ?? String(error));
  const details =
    error instanceof InputError ? { file: error.file, tensor: error.tensor }
    : error instanceof OutputError ? { path: error.path }
    : error instanceof GpuError ? { runtimeError: error.runtimeError }
    : error instanceof CommanderError ? { code: error.code }
    : {};
  return errorDocument(kind, exitCode, message, details);
}

/** Runs the CLI and returns the exit code; errors print one line (a stack trace only with --debug),
 * and with --json a run that printed no report prints the error as its JSON document. */
export async function main(argv: string[]): Promise<number> {
  if (process.env.NO_COLOR) chalk.level = 0; // https://no-color.org: chalk itself does not read it
  jsonRun.requested = undefined;
  jsonRun.written = false;
  const program = buildProgram();
  // the parsed option, not argv: `-o --json` names a directory
  program.hook('preAction', (_program, action) => {
    jsonRun.requested = action.opts().json === true;
    refuseEmptyValues(action);
  });
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (error) {
    const exitCode = exitCodeFor(error);
    // before the options are parsed (commander's errors, an option's own parser), only argv can tell
    const json = jsonRun.requested ?? wantsJson(argv);
    if (exitCode !== ExitCode.ok && json && !jsonRun.written) writeJsonDocument(errorDocumentFor(error, exitCode));
    if (error instanceof CommanderError) return exitCode; // commander printed its message
    const message = error instanceof GgufGpuError ? error.message : `unexpected error: ${(error as Error)?.message ?? String(error)}`;
    // names from a file may hold control characters: one line, no escape sequences
    process.stderr.write(`${chalk.red('gguf-gpu:')} ${printable(message)}\n`);
    if (argv.includes('--debug') && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCode;
  }
}

/**
 * The process around main(), for bin/gguf-gpu.js:
 * - a closed pipe (`| head -1`) ends the printout, not the work: the files and the exit code still count;
 * - any other failure to write stdout (a full disk) drops further output and makes a run that would
 *   have succeeded exit 5, with one line on stderr; a failing stderr only loses its lines.
 * Signals keep their default action until dequant or matmul --out start writing files (see interrupt.ts).
 */
export async function runCli(argv: string[]): Promise<void> {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      stream.write = () => true;
      // stderr only carries diagnostics, which the exit code repeats: losing them changes nothing else
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED' || stream !== process.stdout) return;
      if (!process.exitCode) process.exitCode = ExitCode.output;
      writeQuietly(2, `gguf-gpu: cannot write to stdout: ${fsReason(error)}\n`);
    });
  }
  const code = await main(argv);
  if (code !== ExitCode.ok || !process.exitCode) process.exitCode = code;
}
