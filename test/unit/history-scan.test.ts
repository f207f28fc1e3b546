// The history scan of the audit layer (test/support/history-scan.ts) sees inside payloads: a
// password planted in any payload of a real recorded history (test/replay/histories/), or in the
// places those histories happen not to use (memo, header, failure details, a payload inside a
// payload), is found by its hash; searching the history's JSON text, as the audit did before,
// finds none of them (payloads are base64 there).
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { findPasswords, historyTexts, sha256 } from '../support/history-scan.js';

const histories = new URL('../replay/histories/', import.meta.url);

// the alphabet and length of activities/vault.ts (test/infra/store-fronts.test.ts scans a
// password that activity generated, so a change there cannot hide from the scan)
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

function password(): string {
  return Array.from({ length: 32 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
}

type Json = Record<string, unknown>;
interface JsonPayload {
  metadata: Record<string, string>;
  data?: string;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const unb64 = (text: string) => Buffer.from(text, 'base64').toString();

function isPayload(value: unknown): value is JsonPayload {
  return typeof value === 'object' && value !== null && 'metadata' in value;
}

/** Every payload of a history in its JSON form, with where it sits (array indexes dropped). */
function payloadSites(value: unknown, path: string[] = [], out: [string, JsonPayload][] = []) {
  if (typeof value !== 'object' || value === null) return out;
  if (isPayload(value)) {
    out.push([path.filter((p) => !/^\d+$/.test(p)).join('.'), value]);
    return out;
  }
  for (const [key, child] of Object.entries(value)) payloadSites(child, [...path, key], out);
  return out;
}

/** Puts `secret` into the payload's value, as a leak would: a field beside the others. */
function plant(payload: JsonPayload, secret: string): void {
  const text = payload.data ? unb64(payload.data) : '';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  const leaked =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? { ...value, leaked: secret }
      : [value, secret];
  payload.metadata = { encoding: b64('json/plain') };
  payload.data = b64(JSON.stringify(leaked));
}

const jsonPayload = (value: unknown): JsonPayload => ({
  metadata: { encoding: b64('json/plain') },
  data: b64(JSON.stringify(value)),
});

/** Sites the recorded histories do not use, added to a copy of one of them. */
const EXTRA_SITES: Record<string, (events: Json[], secret: string) => void> = {
  memo(events, secret) {
    const started = events[0]?.['workflowExecutionStartedEventAttributes'] as Json;
    started['memo'] = { fields: { note: jsonPayload({ leaked: secret }) } };
  },
  header(events, secret) {
    const started = events[0]?.['workflowExecutionStartedEventAttributes'] as Json;
    started['header'] = { fields: { trace: jsonPayload(secret) } };
  },
  'failure details'(events, secret) {
    events.push({
      eventId: String(events.length + 1),
      eventType: 'EVENT_TYPE_ACTIVITY_TASK_FAILED',
      activityTaskFailedEventAttributes: {
        failure: {
          message: 'activity failed',
          applicationFailureInfo: { type: 'Error', details: { payloads: [jsonPayload(secret)] } },
        },
        scheduledEventId: '5',
        startedEventId: '6',
      },
    });
  },
  'failure encoded attributes'(events, secret) {
    events.push({
      eventId: String(events.length + 1),
      eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED',
      workflowExecutionFailedEventAttributes: {
        failure: { message: 'Encoded failure', encodedAttributes: jsonPayload({ stack: secret }) },
      },
    });
  },
  'payload nested in a signal payload'(events, secret) {
    const signal = {
      ...jsonPayload({ inner: { metadata: { encoding: b64('json/plain') }, data: b64(secret) } }),
    };
    events.push({
      eventId: String(events.length + 1),
      eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED',
      workflowExecutionSignaledEventAttributes: {
        signalName: 'note',
        input: { payloads: [signal] },
      },
    });
  },
};

function load(file: string): { events: Json[] } {
  return JSON.parse(readFileSync(new URL(file, histories), 'utf8')) as { events: Json[] };
}

/** What the audit did before: the history's JSON text, searched for the password. */
const oldScan = (history: unknown, secret: string) => JSON.stringify(history).includes(secret);

function scan(json: unknown, secret: string) {
  // fetchHistory() answers the protobuf form; historyFromJSON gives that form from the JSON one
  const history = historyFromJSON(json);
  const { found } = findPasswords(historyTexts(history), [{ sha256: sha256(secret), length: 32 }]);
  return { history, found: found.has(sha256(secret)) };
}

describe('the history scan', () => {
  const files = readdirSync(histories).filter((f) => f.endsWith('.json'));
  const sites = new Map<string, string>();
  for (const file of files) {
    for (const [site] of payloadSites(load(file))) if (!sites.has(site)) sites.set(site, file);
  }

  it('knows the recorded histories hold payloads in many places', () => {
    // activity inputs and results, markers (local activities, patches), signals, workflow input
    // and result, continue-as-new input, search attributes
    assert.ok(sites.size >= 10, [...sites.keys()].join('\n'));
  });

  for (const [site, file] of sites) {
    it(`finds a password planted in ${site} (${file}), which the JSON text hides`, () => {
      const json = load(file);
      const secret = password();
      const target = payloadSites(json).find(([s]) => s === site)?.[1];
      assert.ok(target);
      plant(target, secret);
      const { history, found } = scan(json, secret);
      assert.equal(oldScan(history, secret), false, 'the old scan would have found it');
      assert.ok(found, `the password planted in ${site} was not found`);
    });
  }

  for (const [site, add] of Object.entries(EXTRA_SITES)) {
    it(`finds a password planted in the ${site}`, () => {
      const json = load('provision-modify-delete-0.json');
      const secret = password();
      add(json.events, secret);
      const { history, found } = scan(json, secret);
      assert.equal(oldScan(history, secret), false, 'the old scan would have found it');
      assert.ok(found, `the password planted in the ${site} was not found`);
    });
  }

  it('finds one written in plain text too, and nothing in a clean history', () => {
    const json = load('provision-modify-delete-0.json');
    const secret = password();
    const clean = scan(json, secret);
    assert.equal(clean.found, false);
    const started = json.events[0]?.['workflowExecutionStartedEventAttributes'] as Json;
    started['identity'] = `worker postgresql://app:${secret}@db.example:5432/app`;
    assert.ok(scan(json, secret).found);
  });
});
