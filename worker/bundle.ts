// The workflow code as the worker runs it: one webpack bundle of workflows/database.ts, built
// once by `npm run build` (dist/workflow-bundle.js) instead of at every worker start. A worker
// run from the build output loads that file; one run from the sources (tsx, development and
// tests) bundles the sources at start, as before.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';

/** The bundle's file name in the build output (dist/), beside worker/ and the others. */
export const BUNDLE_FILE = 'workflow-bundle.js';

const sources = fileURLToPath(new URL('../workflows/database.ts', import.meta.url));
const shipped = fileURLToPath(new URL(`../${BUNDLE_FILE}`, import.meta.url));

/** Bundles the workflow sources into `out` (what `npm run build` and the replay test run). */
export async function bundleWorkflows(out: string): Promise<{ bytes: number }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: sources,
    logger: new DefaultLogger('WARN'),
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
  return { bytes: Buffer.byteLength(code) };
}

/** The prebuilt bundle beside a compiled worker, else the sources (bundled at start). */
export function workflowCode(): {
  readonly options: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>;
  readonly from: string;
} {
  if (existsSync(shipped))
    return { options: { workflowBundle: { codePath: shipped } }, from: shipped };
  return { options: { workflowsPath: sources }, from: sources };
}
