// `rdsflow describe`: the object's status and its workflow's live status (--watch follows it).
import { follow } from '../follow.js';
import { describeView } from '../format.js';
import { EXIT } from '../help.js';
import { CliError } from '../session.js';
import { target, type Command } from './context.js';

export const describe: Command = async (ctx) => {
  const { session, io, options, print } = ctx;
  const { workflowId, object } = await target(ctx);
  if (options.watch) return follow(session, io, options, workflowId);
  const workflow = await session.workflowView(workflowId);
  if (!object && !workflow) {
    throw new CliError(
      `no workflow ${workflowId}: it has never run in this Temporal namespace`,
      EXIT.noWorkflow,
    );
  }
  print(describeView(object, workflow), { object: object ?? null, workflow: workflow ?? null });
  return EXIT.ok;
};
