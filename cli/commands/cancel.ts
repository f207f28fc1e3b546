// `rdsflow cancel` and `rdsflow retry`: cancel the workflow (its run is rolled back), or re-run
// a Failed database's stage now.
import { retrySignal } from '../../contracts/workflow.js';
import { follow } from '../follow.js';
import { EXIT } from '../help.js';
import { target, type Command } from './context.js';

export const cancel: Command = async (ctx) => {
  const { session, io, options, print } = ctx;
  const { workflowId, object } = await target(ctx);
  await session.guardCancel(ctx.args[0] ?? '', workflowId, object);
  await session.call(() => session.handle(workflowId).cancel(), workflowId);
  print(`cancellation requested: ${workflowId}\n`, { workflowId, cancel: true });
  return options.watch ? follow(session, io, options, workflowId) : EXIT.ok;
};

export const retry: Command = async (ctx) => {
  const { session, io, options, print } = ctx;
  const { workflowId } = await target(ctx);
  await session.call(() => session.handle(workflowId).signal(retrySignal), workflowId);
  print(`retry requested: ${workflowId}\n`, { workflowId, retry: true });
  return options.watch ? follow(session, io, options, workflowId) : EXIT.ok;
};
