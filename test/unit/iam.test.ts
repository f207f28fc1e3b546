// deploy/iam/worker-policy.json, the worker role's AWS permissions, against the code: every AWS
// call the activities make is allowed (derived from their `new XxxCommand(` calls, so a new
// call without a policy entry fails here), nothing else is, and what changes or deletes an
// instance is fenced by rdsflow's tags. The fence is also evaluated, with IAM's rules for
// what the document uses (wildcards, the Null operator), on instances ours, retained and
// foreign. Real IAM is not available locally (moto does not evaluate tag conditions).
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { TAG_KEYS, finalSnapshotIdentifier } from '../../contracts/names.js';
import { rdsIdentifier } from '../../contracts/identifier.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

interface Statement {
  readonly Sid: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: Record<string, Record<string, string>>;
}

const policy = JSON.parse(readFileSync(join(repo, 'deploy/iam/worker-policy.json'), 'utf8')) as {
  Version: string;
  Statement: Statement[];
};

const list = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);
const policyActions = new Set(policy.Statement.flatMap((s) => list(s.Action)));

/**
 * `service:Action` of every AWS SDK command the activities construct, from the client package
 * each command is imported from (`@aws-sdk/client-rds` → `rds:`).
 */
function actionsSent(): Set<string> {
  const dir = join(repo, 'activities');
  const actions = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    const serviceOf = new Map<string, string>();
    for (const m of source.matchAll(
      /import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g,
    ))
      for (const name of (m[1] ?? '').split(','))
        serviceOf.set(name.replace(/^\s*type\s+/, '').trim(), m[2] ?? '');
    for (const m of source.matchAll(/new\s+(\w+)Command\(/g)) {
      const service = serviceOf.get(`${m[1]}Command`);
      assert.ok(service, `${file}: new ${m[1]}Command( is not imported from an @aws-sdk client`);
      actions.add(`${service}:${m[1]}`);
    }
  }
  return actions;
}

/** Allowed though no activity sends it, and why. */
const NOT_SENT_BUT_NEEDED: Record<string, string> = {
  'rds:CreateDBSnapshot': 'DeleteDBInstance with a final snapshot is authorized for it too',
  'sts:GetCallerIdentity': 'which account a not-found answer came from',
};

// ---- a minimal evaluator of this document: Allow statements, wildcards, Null conditions ----

interface Request {
  readonly action: string;
  readonly resource: string;
  /** condition keys present in the request context, e.g. rds:db-tag/rdsflow.io/uid */
  readonly context: ReadonlySet<string>;
}

function glob(pattern: string, value: string): boolean {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped.replace(/\?/g, '.')}$`).test(value);
}

function conditionHolds(statement: Statement, context: ReadonlySet<string>): boolean {
  return Object.entries(statement.Condition ?? {}).every(([operator, keys]) => {
    assert.equal(operator, 'Null', `${statement.Sid}: the test evaluates Null conditions only`);
    return Object.entries(keys).every(([key, absent]) => (absent === 'false') === context.has(key));
  });
}

function allowed(request: Request): boolean {
  return policy.Statement.some(
    (s) =>
      s.Effect === 'Allow' &&
      list(s.Action).some((a) => glob(a, request.action)) &&
      list(s.Resource).some((r) => glob(r, request.resource)) &&
      conditionHolds(s, request.context),
  );
}

const identifier = rdsIdentifier('shop', 'orders');
const dbArn = `arn:aws:rds:eu-west-1:123456789012:db:${identifier}`;
const snapshotArn = (name: string) => `arn:aws:rds:eu-west-1:123456789012:snapshot:${name}`;

/** The condition keys an instance with these tags brings to a request. */
const onInstance = (...tags: string[]) =>
  new Set(tags.flatMap((t) => [`rds:db-tag/${t}`, `aws:ResourceTag/${t}`]));
const withRequestTags = (...tags: string[]) => new Set(tags.map((t) => `aws:RequestTag/${t}`));

const OURS = onInstance(TAG_KEYS.uid, TAG_KEYS.namespace, TAG_KEYS.name, TAG_KEYS.run);
const RETAINED = onInstance(TAG_KEYS.retainedFrom, TAG_KEYS.namespace, TAG_KEYS.name);
const FOREIGN = onInstance('team', 'Name');
const UNTAGGED = new Set<string>();

const CHANGES = [
  'rds:ModifyDBInstance',
  'rds:DeleteDBInstance',
  'rds:AddTagsToResource',
  'rds:RemoveTagsFromResource',
  'rds:CreateDBSnapshot',
];

/**
 * What changes or deletes an instance, and the condition keys of which at least one must be
 * required present (Null: "false") by any statement allowing it on instances.
 */
const FENCES: Record<string, string[]> = {
  'rds:DeleteDBInstance': [`rds:db-tag/${TAG_KEYS.uid}`, `aws:ResourceTag/${TAG_KEYS.uid}`],
  'rds:ModifyDBInstance': [`rds:db-tag/${TAG_KEYS.uid}`, `aws:ResourceTag/${TAG_KEYS.uid}`],
  'rds:RemoveTagsFromResource': [`rds:db-tag/${TAG_KEYS.uid}`, `aws:ResourceTag/${TAG_KEYS.uid}`],
  'rds:CreateDBSnapshot': [`rds:db-tag/${TAG_KEYS.uid}`, `aws:ResourceTag/${TAG_KEYS.uid}`],
  'rds:AddTagsToResource': [
    `rds:db-tag/${TAG_KEYS.uid}`,
    `aws:ResourceTag/${TAG_KEYS.uid}`,
    `rds:db-tag/${TAG_KEYS.retainedFrom}`,
    `aws:ResourceTag/${TAG_KEYS.retainedFrom}`,
    `aws:RequestTag/${TAG_KEYS.uid}`,
  ],
  'rds:CreateDBInstance': [`aws:RequestTag/${TAG_KEYS.uid}`],
  'rds:RestoreDBInstanceFromDBSnapshot': [`aws:RequestTag/${TAG_KEYS.uid}`],
};

describe('the worker IAM policy (deploy/iam/worker-policy.json)', () => {
  it('allows every AWS call the activities make', () => {
    const sent = actionsSent();
    assert.ok(
      sent.has('rds:DeleteDBInstance') && sent.size >= 7,
      `found only ${[...sent].join(', ')}`,
    );
    const missing = [...sent].filter((a) => !policyActions.has(a));
    assert.deepEqual(missing, [], `the code sends ${missing.join(', ')}: add it to the policy`);
  });

  it('allows nothing else, and no wildcard action', () => {
    const sent = actionsSent();
    const extra = [...policyActions].filter((a) => !sent.has(a) && !(a in NOT_SENT_BUT_NEEDED));
    assert.deepEqual(extra, [], 'the policy allows actions no activity needs');
    for (const action of policyActions) assert.doesNotMatch(action, /\*/, action);
    assert.equal(policy.Version, '2012-10-17');
    for (const s of policy.Statement) assert.equal(s.Effect, 'Allow', s.Sid);
  });

  it("allows what changes an instance only under a condition on rdsflow's tags", () => {
    for (const s of policy.Statement) {
      if (!list(s.Resource).some((r) => glob(r, dbArn))) continue;
      const required = Object.entries(s.Condition?.['Null'] ?? {})
        .filter(([, absent]) => absent === 'false')
        .map(([key]) => key);
      for (const action of list(s.Action).filter((a) => a in FENCES)) {
        assert.ok(
          required.some((key) => FENCES[action]?.includes(key)),
          `${s.Sid} allows ${action} on instances without requiring one of ${(FENCES[action] ?? []).join(', ')}`,
        );
      }
    }
  });

  it('lets the worker change and delete an instance carrying rdsflow.io/uid', () => {
    for (const action of CHANGES)
      assert.ok(allowed({ action, resource: dbArn, context: OURS }), action);
  });

  it('refuses every change to an instance without rdsflow tags', () => {
    for (const context of [FOREIGN, UNTAGGED])
      for (const action of [...CHANGES, 'rds:CreateDBInstance'])
        assert.ok(!allowed({ action, resource: dbArn, context }), action);
  });

  it('lets the worker only tag a retained instance (the explicit adoption)', () => {
    assert.ok(allowed({ action: 'rds:AddTagsToResource', resource: dbArn, context: RETAINED }));
    for (const action of CHANGES.filter((a) => a !== 'rds:AddTagsToResource'))
      assert.ok(!allowed({ action, resource: dbArn, context: RETAINED }), action);
  });

  it("creates an instance only with rdsflow's tags in the request", () => {
    const create = withRequestTags(TAG_KEYS.uid, TAG_KEYS.run, TAG_KEYS.name, 'team');
    for (const action of ['rds:CreateDBInstance', 'rds:AddTagsToResource'])
      assert.ok(allowed({ action, resource: dbArn, context: create }), action);
    const untagged = withRequestTags('team');
    for (const action of ['rds:CreateDBInstance', 'rds:AddTagsToResource'])
      assert.ok(!allowed({ action, resource: dbArn, context: untagged }), action);
  });

  it("takes a final snapshot under rdsflow's names only", () => {
    const finalSnapshot = finalSnapshotIdentifier(identifier, 'a-run-id');
    for (const name of [finalSnapshot, `${finalSnapshot}-2`])
      for (const action of ['rds:CreateDBSnapshot', 'rds:AddTagsToResource'])
        assert.ok(allowed({ action, resource: snapshotArn(name), context: UNTAGGED }), action);
    for (const action of ['rds:CreateDBSnapshot', 'rds:AddTagsToResource'])
      assert.ok(!allowed({ action, resource: snapshotArn('nightly'), context: UNTAGGED }), action);
  });

  it('changes and deletes only parameter groups carrying rdsflow.io/uid, and creates them only with it', () => {
    const group = 'arn:aws:rds:eu-west-1:123456789012:pg:shop-orders-postgres16';
    const ours = new Set([`rds:pg-tag/${TAG_KEYS.uid}`]);
    const change = [
      'rds:ModifyDBParameterGroup',
      'rds:ResetDBParameterGroup',
      'rds:DeleteDBParameterGroup',
    ];
    for (const action of change) {
      assert.ok(allowed({ action, resource: group, context: ours }), action);
      assert.ok(!allowed({ action, resource: group, context: UNTAGGED }), action);
    }
    const create = 'rds:CreateDBParameterGroup';
    assert.ok(allowed({ action: create, resource: group, context: withRequestTags(TAG_KEYS.uid) }));
    assert.ok(!allowed({ action: create, resource: group, context: withRequestTags('team') }));
  });

  it('reads any instance and snapshot: a foreign one must be read to be left alone', () => {
    for (const action of ['rds:DescribeDBInstances', 'rds:DescribeDBSnapshots'])
      assert.ok(allowed({ action, resource: dbArn, context: FOREIGN }), action);
  });
});
