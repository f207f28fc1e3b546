// Composition root of the `rdsflow` command: parse the arguments, build only the clients the
// command needs (cli/session.ts), run it (cli/commands/), and turn every failure into a message
// that says what to do and an exit code a script can rely on (cli/help.ts).
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config.js';
import { adopt } from './commands/adopt.js';
import { approve } from './commands/approve.js';
import { cancel, retry } from './commands/cancel.js';
import type { Command } from './commands/context.js';
import { describe } from './commands/describe.js';
import { history } from './commands/history.js';
import { list } from './commands/list.js';
import { signal } from './commands/signal.js';
import { EXIT, HELP } from './help.js';
import { CliError, Session, firstLine, type Io, type Options } from './session.js';

export { EXIT, HELP } from './help.js';
export type { Io } from './session.js';

/** Each command with how many positional arguments it takes (at least, at most). */
const COMMANDS: Readonly<Record<string, { run: Command; args: [number, number] }>> = {
  list: { run: list, args: [0, 0] },
  describe: { run: describe, args: [1, 1] },
  history: { run: history, args: [1, 1] },
  approve: { run: approve, args: [1, 1] },
  adopt: { run: adopt, args: [1, 1] },
  cancel: { run: cancel, args: [1, 1] },
  retry: { run: retry, args: [1, 1] },
  signal: { run: signal, args: [2, 3] },
};

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      watch: { type: 'boolean', short: 'w', default: false },
      yes: { type: 'boolean', short: 'y', default: false },
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/** A failure the user can act on: its message on stderr (stdout as JSON with --json). */
function failed(error: unknown, io: Io, options: Options): number {
  if (error instanceof CliError) {
    // --json: a script reads the error from stdout; people read it on stderr
    if (options.json) io.out(`${JSON.stringify({ error: error.message, code: error.code })}\n`);
    else io.err(`rdsflow: ${error.message}\n`);
    return error.code;
  }
  if (error instanceof ConfigError) {
    io.err(`rdsflow: ${error.message}\n`);
    return EXIT.usage;
  }
  throw error;
}

async function dispatch(command: Command, args: string[], io: Io, options: Options) {
  const session = new Session(io, options);
  // --watch --json prints JSON lines (the acknowledgement, then one per change)
  const print = (human: string, json: unknown) =>
    io.out(options.json ? `${JSON.stringify(json, null, options.watch ? undefined : 2)}\n` : human);
  try {
    return await command({ session, io, options, args, print });
  } catch (error: unknown) {
    return failed(error, io, options);
  } finally {
    await session.close();
  }
}

/** The command, if it exists and takes this many arguments; otherwise says why (usage). */
function commandFor(name: string, args: readonly string[], io: Io): Command | undefined {
  const command = COMMANDS[name];
  if (!command) {
    io.err(`unknown command ${JSON.stringify(name)}\n\n${HELP[''] ?? ''}`);
    return undefined;
  }
  const [least, most] = command.args;
  if (args.length < least || args.length > most) {
    io.err(HELP[name] ?? '');
    return undefined;
  }
  return command.run;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (error: unknown) {
    io.err(`${firstLine(error)}\n\n${HELP[''] ?? ''}`);
    return EXIT.usage;
  }
  const [name = '', ...args] = parsed.positionals;
  const { values } = parsed;
  if (values.help || name === 'help' || name === '') {
    io.out(HELP[name === 'help' ? (args[0] ?? '') : name] ?? HELP[''] ?? '');
    return name === '' && !values.help ? EXIT.usage : EXIT.ok;
  }
  const command = commandFor(name, args, io);
  if (!command) return EXIT.usage;
  const options: Options = {
    json: values.json,
    watch: values.watch,
    yes: values.yes,
    all: values['all-namespaces'],
    ...(values.namespace ? { namespace: values.namespace } : {}),
  };
  return dispatch(command, args, io, options);
}
