// `rdsflow signal`: any of the workflow's signals, as the stock temporal CLI would send it; a
// delete to a Database nobody deleted only with --yes.
import type { DatabaseObject } from '../../contracts/database.js';
import {
  approveSignal,
  deleteSignal,
  retrySignal,
  specChangedSignal,
} from '../../contracts/workflow.js';
import { EXIT } from '../help.js';
import { CliError, firstLine, type Options } from '../session.js';
import { target, type Command } from './context.js';

const SIGNALS = {
  approve: approveSignal.name,
  retry: retrySignal.name,
  delete: deleteSignal.name,
  specChanged: specChangedSignal.name,
} as const;

/**
 * A delete signal to the workflow of a Database nobody deleted removes its instance (per
 * policy) and releases the finalizer: only with --yes.
 */
function guardDelete(ref: string, object: DatabaseObject | undefined, options: Options): void {
  if (options.yes || object?.metadata.deletionTimestamp) return;
  const what = object
    ? `${ref} is not being deleted: the delete signal would delete RDS instance ` +
      `${object.status?.dbInstanceIdentifier ?? '(its instance)'} per deletionPolicy ` +
      `${object.spec.deletionPolicy ?? 'Snapshot'} and release the finalizer, leaving the object`
    : `cannot tell whether the Database of ${ref} is being deleted (no Kubernetes lookup by ` +
      'workflow ID); the delete signal deletes its instance per deletionPolicy';
  throw new CliError(
    `${what}. \`kubectl delete database\` is the usual way; re-run with --yes to go ahead.`,
    EXIT.usage,
  );
}

/** The signal's argument, if one was given: it must be JSON. */
function argument(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  try {
    return [JSON.parse(text) as unknown];
  } catch (error: unknown) {
    throw new CliError(`the signal's argument is not JSON: ${firstLine(error)}`, EXIT.usage);
  }
}

export const signal: Command = async (ctx) => {
  const { session, options, print } = ctx;
  const name = ctx.args[1] ?? '';
  if (!(name in SIGNALS)) {
    throw new CliError(
      `unknown signal ${JSON.stringify(name)}: one of ${Object.keys(SIGNALS).join(', ')}`,
      EXIT.usage,
    );
  }
  const args = argument(ctx.args[2]);
  const { workflowId, object } = await target(ctx);
  if (name === 'delete') guardDelete(ctx.args[0] ?? '', object, options);
  await session.call(() => session.handle(workflowId).signal(name, ...args), workflowId);
  print(`signalled ${name}: ${workflowId}\n`, { workflowId, signal: name });
  return EXIT.ok;
};
