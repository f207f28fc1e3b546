// @tools: chromium
// The Temporal Web UI finds a database's runs by its search attributes: headless Chromium
// (Debian's) opens the UI's workflow list filtered by DatabaseName and DatabasePhase, and the
// rendered page lists the database's workflow. A screenshot is kept beside the logs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDatabase, waitForPhase } from '../support/database.js';
import { config, uniqueName, workflowIdOf } from '../support/env.js';
import { startWatcher, startWorker, type AppProcess } from '../support/processes.js';
import { LABEL } from '../support/watched.js';

function chromium(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'chromium',
      ['--headless', '--no-sandbox', '--disable-gpu', '--window-size=1400,900', ...args],
      { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`chromium failed: ${stderr.slice(-500)}`)) : resolve(stdout),
    );
  });
}

describe('the Temporal Web UI', () => {
  const id = uniqueName('ui');
  const processes: AppProcess[] = [];

  before(async () => {
    processes.push(await startWorker(id));
    processes.push(await startWatcher({ taskQueue: id, selector: `${LABEL}=${id}` }));
  });

  after(async () => {
    for (const p of processes) await p.stop();
  });

  it("lists a database's runs when filtered by its search attributes", async () => {
    const ui = config.temporal.uiUrl;
    assert.ok(ui, 'RDSFLOW_TEMPORAL_UI is not set: is the stack up?');
    const name = `${id}-db`;
    const object = await createDatabase(
      name,
      { engine: 'postgres', deletionPolicy: 'Delete' },
      { [LABEL]: id },
    );
    await waitForPhase(name, 'Available', 60_000, () =>
      processes.map((p) => p.output()).join('\n'),
    );
    const query = `DatabaseName = '${name}' AND DatabasePhase = 'Available'`;
    const url = `${ui}/namespaces/${config.temporal.namespace}/workflows?query=${encodeURIComponent(query)}`;
    // the UI is a single-page app: let its scripts and API calls run before reading the page
    const dom = await chromium('--virtual-time-budget=20000', '--dump-dom', url);
    assert.ok(
      dom.includes(await workflowIdOf(object.metadata)),
      'the filtered list shows the workflow',
    );
    assert.match(dom, /DatabaseName/);
    const shot = join(tmpdir(), `rdsflow-ui-${id}.png`);
    await chromium('--virtual-time-budget=20000', `--screenshot=${shot}`, url);
    process.stdout.write(`# Temporal UI screenshot: ${shot}\n`);
  });
});
