// The apiserver's audit log (infra/servers.ts turns it on for Database objects): who created,
// changed and deleted which Database, when, and the object as stored afterwards. Tests read it
// as the apiserver's own record of what users asked for.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { DatabaseObject } from '../../contracts/database.js';
import type { AuditEvent } from './audit-records.js';
import { tools } from './env.js';

export { objectAt, testObjectUids, userDeleted, type AuditEvent } from './audit-records.js';

interface RawEvent {
  verb?: string;
  stage?: string;
  objectRef?: { namespace?: string; name?: string; resource?: string; subresource?: string };
  responseObject?: { kind?: string; details?: { uid?: string } } & Partial<DatabaseObject>;
  responseStatus?: { code?: number };
  stageTimestamp?: string;
  requestReceivedTimestamp?: string;
  user?: { username?: string };
}

/** Every completed write to a Database in the audit log (and its rotated files), in order. */
export function databaseWrites(): AuditEvent[] {
  const path = tools.kubeAuditLog;
  const dir = dirname(path);
  const stem = basename(path, '.log');
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.startsWith(`${stem}-`) && f.endsWith('.log'))
        .sort()
        .map((f) => join(dir, f))
    : [];
  if (existsSync(path)) files.push(path);
  const events: AuditEvent[] = [];
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const raw = JSON.parse(line) as RawEvent;
      const ref = raw.objectRef ?? {};
      if (raw.stage !== 'ResponseComplete' || ref.resource !== 'databases' || ref.subresource)
        continue;
      const object =
        raw.responseObject?.kind === 'Database'
          ? (raw.responseObject as DatabaseObject)
          : undefined;
      // NOTE: deleting an object with no finalizer left answers a Status naming its UID
      const uid = object?.metadata.uid ?? raw.responseObject?.details?.uid;
      events.push({
        verb: raw.verb ?? '',
        namespace: ref.namespace ?? '',
        name: ref.name ?? object?.metadata.name ?? '',
        at: Date.parse(raw.stageTimestamp ?? ''),
        receivedAt: Date.parse(raw.requestReceivedTimestamp ?? raw.stageTimestamp ?? ''),
        code: raw.responseStatus?.code ?? 0,
        user: raw.user?.username ?? '',
        ...(uid ? { uid } : {}),
        ...(object ? { object } : {}),
      });
    }
  }
  return events.sort((a, b) => a.at - b.at);
}
