// --watch: follows a database's live status until it settles in a final phase (or its workflow
// closes), drawing one line per change (or a redrawn line on a terminal, or JSON lines).
import { setTimeout as sleep } from 'node:timers/promises';
import type { LiveStatus } from '../contracts/workflow.js';
import { deletionLines, progressLine } from './format.js';
import { EXIT } from './help.js';
import type { Io, Options, Session } from './session.js';

const FINAL_PHASES = new Set(['Available', 'Failed', 'Cancelled']);

/** Available in the serve stage (not a phase left over from an earlier run) is final. */
function isFinal(live: LiveStatus): boolean {
  return FINAL_PHASES.has(live.phase) && (live.phase !== 'Available' || live.stage === 'serve');
}

/** Prints a live status: a new line when it changed, a redrawn one on a terminal. */
function printer(io: Io, options: Options, started: number) {
  let last = '';
  return (live: LiveStatus): void => {
    const line = options.json ? JSON.stringify(live) : progressLine(live, io.now() - started);
    const changed = JSON.stringify(live) !== last;
    last = JSON.stringify(live);
    if (options.json) {
      if (changed) io.out(`${line}\n`);
    } else if (io.isTTY) io.out(`\r\x1b[K${line}`);
    else if (changed) io.out(`${line}\n`);
  };
}

/** The exit code of a closed workflow, said as a line. */
async function closed(
  session: Session,
  io: Io,
  options: Options,
  workflowId: string,
): Promise<number | undefined> {
  const view = await session.workflowView(workflowId);
  if (!view || view.status === 'RUNNING') return undefined;
  if (!options.json && io.isTTY) io.out('\n');
  const result = view.result ? { result: view.result } : {};
  const said = deletionLines(view.result).map((line) => `${line}\n`);
  io.out(
    options.json
      ? `${JSON.stringify({ workflowId, status: view.status, ...result })}\n`
      : `workflow ${view.status}\n${said.join('')}`,
  );
  return view.status === 'COMPLETED' ? EXIT.ok : EXIT.endedBadly;
}

/** Follows the live status until a final phase holds for a whole stage, or the workflow closes. */
export async function follow(
  session: Session,
  io: Io,
  options: Options,
  workflowId: string,
): Promise<number> {
  const print = printer(io, options, io.now());
  let settledStage = '';
  for (;;) {
    const live = await session.live(workflowId);
    // NOTE: a worker answers the query of a closed workflow too (by replay), with its last
    // status: a deletion's or an orphaning's end is seen only in the workflow's own state
    const ending = live?.stage === 'delete' || live?.stage === 'orphan';
    const code = !live || ending ? await closed(session, io, options, workflowId) : undefined;
    if (code !== undefined) return code;
    if (live) {
      print(live);
      const final = isFinal(live);
      if (final && live.stage === settledStage) {
        if (!options.json && io.isTTY) io.out('\n');
        return live.phase === 'Available' ? EXIT.ok : EXIT.endedBadly;
      }
      settledStage = final ? live.stage : '';
    }
    await sleep(500);
  }
}
