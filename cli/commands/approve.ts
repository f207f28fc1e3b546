// `rdsflow approve`: shows the generation waiting for approval and approves exactly that one.
import { userInfo } from 'node:os';
import type { PendingApproval } from '../../contracts/database.js';
import { approveSignal } from '../../contracts/workflow.js';
import { follow } from '../follow.js';
import { EXIT } from '../help.js';
import { CliError } from '../session.js';
import { target, type Command } from './context.js';

function approvalLine(p: PendingApproval): string {
  return (
    `approving generation ${p.generation}: ${p.engine}${p.engineVersion ? ` ${p.engineVersion}` : ''} ` +
    `${p.instanceClass}, ${p.storageGiB} GiB, Multi-AZ ${p.multiAZ ? 'yes' : 'no'}, ` +
    `deletionPolicy ${p.deletionPolicy}`
  );
}

export const approve: Command = async (ctx) => {
  const { session, io, options, print } = ctx;
  const { workflowId, object } = await target(ctx);
  const pending = await session.pendingApproval(workflowId, object);
  if (!pending) {
    throw new CliError(
      `${ctx.args[0] ?? ''} is not waiting for approval (phase ${object?.status?.phase ?? 'unknown'})`,
      EXIT.error,
    );
  }
  const approval = { by: userInfo().username, generation: pending.generation };
  await session.call(() => session.handle(workflowId).signal(approveSignal, approval), workflowId);
  print(`${approvalLine(pending)}\napproved: ${workflowId}\n`, {
    workflowId,
    approve: true,
    approved: pending,
  });
  return options.watch ? follow(session, io, options, workflowId) : EXIT.ok;
};
