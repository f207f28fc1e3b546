// What every command is given: the session, where to write, the options and its arguments.
import type { Io, Options, Session } from '../session.js';

export interface CommandContext {
  readonly session: Session;
  readonly io: Io;
  readonly options: Options;
  /** the positional arguments after the command's name */
  readonly args: readonly string[];
  /** prints the human text, or with --json the value (JSON lines with --watch) */
  readonly print: (human: string, json: unknown) => void;
}

/** A command: its exit code (see EXIT), or a CliError thrown. */
export type Command = (ctx: CommandContext) => Promise<number>;

/** The workflow (and, for a <namespace>/<name> ref, the object) a command's first argument names. */
export function target(ctx: CommandContext): ReturnType<Session['resolve']> {
  return ctx.session.resolve(ctx.args[0] ?? '');
}
