// `rdsflow signal`: any of the workflow's signals, as the stock temporal CLI would send it. A
// signal that names an object (delete, specChanged, objectGone) names this one by default, as
// Kubernetes has it now; the workflow refuses one that names another object, reads the object
// back before any delete, and deletes only what a user deleted.
import type { DatabaseObject } from '../../contracts/database.js';
import {
  approveSignal,
  deleteSignal,
  objectGoneSignal,
  retrySignal,
  specChangedSignal,
} from '../../contracts/workflow.js';
import { viewOf } from '../../kube/databases.js';
import { EXIT } from '../help.js';
import { CliError, firstLine, type Session } from '../session.js';
import { target, type Command } from './context.js';

const SIGNALS = {
  approve: approveSignal.name,
  retry: retrySignal.name,
  delete: deleteSignal.name,
  specChanged: specChangedSignal.name,
  objectGone: objectGoneSignal.name,
} as const;

/** Signals whose payload names the object: by default the one the <ref> names. */
const NAMES_OBJECT = new Set(['delete', 'specChanged', 'objectGone']);

/** The signal's argument, if one was given: it must be JSON. */
function argument(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  try {
    return [JSON.parse(text) as unknown];
  } catch (error: unknown) {
    throw new CliError(`the signal's argument is not JSON: ${firstLine(error)}`, EXIT.usage);
  }
}

/** The object as Kubernetes has it now, naming its cluster, as the watcher would send it. */
async function objectPayload(session: Session, object: DatabaseObject): Promise<unknown[]> {
  return [{ ...viewOf(object), cluster: await session.cluster() }];
}

export const signal: Command = async (ctx) => {
  const { session, print } = ctx;
  const name = ctx.args[1] ?? '';
  if (!(name in SIGNALS)) {
    throw new CliError(
      `unknown signal ${JSON.stringify(name)}: one of ${Object.keys(SIGNALS).join(', ')}`,
      EXIT.usage,
    );
  }
  const given = argument(ctx.args[2]);
  const { workflowId, object } = await target(ctx);
  const args =
    given.length === 0 && object && NAMES_OBJECT.has(name)
      ? await objectPayload(session, object)
      : given;
  await session.call(() => session.handle(workflowId).signal(name, ...args), workflowId);
  const note =
    name === 'delete' && !object?.metadata.deletionTimestamp
      ? ' (the workflow reads the object back: it deletes nothing unless the Database is being deleted)'
      : '';
  print(`signalled ${name}: ${workflowId}${note}\n`, { workflowId, signal: name });
  return EXIT.ok;
};
