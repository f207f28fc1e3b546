// `rdsflow history`: every run of the database's workflow, its steps and the signals it received.
import { historyView } from '../format.js';
import { EXIT } from '../help.js';
import { timeline } from '../timeline.js';
import { target, type Command } from './context.js';

export const history: Command = async (ctx) => {
  const { workflowId } = await target(ctx);
  const entries = timeline(await ctx.session.runs(workflowId));
  ctx.print(historyView(workflowId, entries), { workflowId, entries });
  return EXIT.ok;
};
