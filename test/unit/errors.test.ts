// The one classifier, on the errors the clients really throw (the SDKs' own classes, a real
// refused connection, a real TypeError): each kind of each adapter, the advice a user reads in
// status, and a bug's bounded attempts with its stack in the log and never in the message.
// test/activities/ has the same refusals as the real servers answer them.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import {
  InstanceQuotaExceededFault,
  InvalidDBInstanceStateFault,
  RDSServiceException,
  StorageQuotaExceededFault,
} from '@aws-sdk/client-rds';
import { ExpiredTokenException } from '@aws-sdk/client-sts';
import { ApiException } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { BUG_ATTEMPTS, PERSISTING_ATTEMPTS, classifyError } from '../../activities/errors.js';
import { atActivityEdge } from '../../activities/index.js';
import { createKubeStatusActivities } from '../../activities/kube-status.js';
import type { DatabaseApi, EventApi } from '../../kube/databases.js';
import { FAILURE, FAILURE_KIND, kindOf, type System } from '../../contracts/failures.js';
import { KubeTimeoutError } from '../../kube/bounded.js';
import { verdictOf } from '../../runtime/failure-type.js';
import { isPermanentKubeError, kubeFailureKind } from '../../watcher/effects.js';

// consul's HTTP layer, as consul loads it: its ResponseError carries the status
const papi = createRequire(createRequire(import.meta.url).resolve('consul'))('papi') as {
  ResponseError: new (message: string, response: { statusCode: number; body?: unknown }) => Error;
  PapiError: new (error: Error) => Error;
};

const meta = (httpStatusCode: number) => ({ httpStatusCode, attempts: 1, totalRetryDelay: 0 });

function awsError(name: string, httpStatusCode: number, message: string): RDSServiceException {
  return new RDSServiceException({
    name,
    $fault: 'client',
    $metadata: meta(httpStatusCode),
    message,
  });
}

function classified(system: System, error: unknown, attempt = 1): ApplicationFailure {
  const failure = classifyError(system, 'someStep', error, attempt);
  assert.ok(failure instanceof ApplicationFailure, `not an ApplicationFailure: ${String(failure)}`);
  return failure;
}

/** A port nobody listens on (one just closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A real refused connection, as node's fetch reports it: a TypeError whose cause says why. */
async function refusedFetch(): Promise<unknown> {
  return fetch(`http://127.0.0.1:${await closedPort()}/`).then(
    () => assert.fail('port 1 answered'),
    (error: unknown) => error,
  );
}

/** A real TypeError from a bug: reading a property of undefined. */
function typeError(): unknown {
  try {
    const missing = JSON.parse('{}') as { instance?: { status: string } };
    return missing.instance!.status;
  } catch (error: unknown) {
    return error;
  }
}

interface Logged {
  readonly message: string;
  readonly meta: Record<string, unknown> | undefined;
}

/** Runs `fn` as attempt `attempt` of an activity, collecting what it logs. */
async function asActivity<T>(attempt: number, fn: () => Promise<T>, logged: Logged[] = []) {
  const logger = {
    log: () => {},
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (message: string, meta?: Record<string, unknown>) => logged.push({ message, meta }),
    error: (message: string, meta?: Record<string, unknown>) => logged.push({ message, meta }),
  };
  return new MockActivityEnvironment({ attempt }, { logger }).run(fn);
}

describe('one failure taxonomy', () => {
  it('gives every failure type one of the seven kinds', () => {
    const kinds = new Set(Object.values(FAILURE_KIND));
    assert.deepEqual([...kinds].sort(), [
      'bug',
      'conflict',
      'invalid-spec',
      'not-ours',
      'permission',
      'quota',
      'transient',
    ]);
    for (const type of Object.values(FAILURE)) assert.ok(FAILURE_KIND[type], type);
    // a type no adapter raises (an activity that escaped the edge) reads as a bug
    assert.equal(kindOf('TypeError'), 'bug');
    assert.equal(kindOf(FAILURE.instanceNotOurs), 'not-ours');
  });

  it('AWS: IAM and STS refusals are permission, naming IAM and the action to grant', () => {
    const denied = classified(
      'AWS',
      awsError(
        'AccessDenied',
        403,
        'User: arn:aws:sts::123456789012:assumed-role/rdsflow-worker/x is not authorized to perform: rds:CreateDBInstance',
      ),
    );
    assert.equal(denied.type, FAILURE.permissionDenied);
    assert.equal(denied.nonRetryable, true);
    assert.match(
      denied.message,
      /AWS refused the worker's credentials: AccessDenied: .*rds:CreateDBInstance/,
    );
    assert.match(denied.message, /IAM role/);
    assert.match(denied.message, /deploy\/iam\/worker-policy\.json/);
    const expired = classified(
      'AWS',
      new ExpiredTokenException({
        $metadata: meta(400),
        message: 'The security token included in the request is expired',
      }),
    );
    assert.equal(expired.type, FAILURE.permissionDenied);
  });

  it('AWS: instance and storage quotas are quota, throttling is transient', () => {
    for (const Fault of [InstanceQuotaExceededFault, StorageQuotaExceededFault]) {
      const failure = classified('AWS', new Fault({ $metadata: meta(400), message: 'quota' }));
      assert.equal(failure.type, FAILURE.quotaExceeded, Fault.name);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /Raise the AWS account quota/);
    }
    const throttled = classified('AWS', awsError('Throttling', 400, 'Rate exceeded'));
    assert.equal(throttled.type, FAILURE.transient);
    assert.equal(throttled.nonRetryable, false);
    assert.ok((throttled.nextRetryDelay as number) > 0);
  });

  it('AWS: InvalidParameter is invalid-spec, InvalidDBInstanceState a conflict, 5xx transient', () => {
    const invalid = classified(
      'AWS',
      awsError('InvalidParameterCombination', 400, 'no such class'),
    );
    assert.equal(invalid.type, FAILURE.invalidSpec);
    assert.match(
      invalid.message,
      /RDS rejected the request: InvalidParameterCombination: no such class\. Fix the spec/,
    );
    const state = classified(
      'AWS',
      new InvalidDBInstanceStateFault({ $metadata: meta(400), message: 'currently creating' }),
    );
    assert.equal(state.type, FAILURE.conflict);
    assert.equal(
      classified('AWS', awsError('InternalFailure', 500, 'oops')).type,
      FAILURE.transient,
    );
  });

  it('Kubernetes: 401 and 403 are permission naming Kubernetes and RBAC, never Vault or Consul', () => {
    const body = JSON.stringify({
      kind: 'Status',
      reason: 'Forbidden',
      message:
        'databases.rdsflow.io "orders" is forbidden: User "system:serviceaccount:rdsflow-system:rdsflow-worker" cannot patch resource "databases/status"',
      code: 403,
    });
    for (const code of [401, 403]) {
      const failure = classified('Kubernetes', new ApiException(code, 'HTTP-Code', body, {}));
      assert.equal(failure.type, FAILURE.permissionDenied);
      assert.match(failure.message, /^someStep: Kubernetes refused the worker's credentials: HTTP/);
      assert.match(failure.message, /ServiceAccount/);
      assert.doesNotMatch(failure.message, /Vault|Consul/);
    }
    assert.match(
      classified('Kubernetes', new ApiException(403, 'HTTP-Code', body, {})).message,
      /cannot patch resource "databases\/status"/,
    );
  });

  it('Kubernetes: timeouts, 5xx, 409 and a bare 404 are transient; a 422 to our own request is a bug', async () => {
    assert.equal(
      classified('Kubernetes', new KubeTimeoutError('get', 10_000)).type,
      FAILURE.transient,
    );
    for (const code of [500, 503, 409, 404, 429]) {
      const failure = classified(
        'Kubernetes',
        new ApiException(code, 'x', '404 page not found', {}),
      );
      assert.equal(failure.type, FAILURE.transient, String(code));
    }
    // a bug logs its stack: it runs where the worker runs it, in an activity
    const invalid = (await asActivity(BUG_ATTEMPTS, () =>
      Promise.resolve(
        classifyError(
          'Kubernetes',
          'reportStatus',
          new ApiException(422, 'x', '{}', {}),
          BUG_ATTEMPTS,
        ),
      ),
    )) as ApplicationFailure;
    assert.equal(invalid.type, FAILURE.bug);
    assert.match(invalid.message, /Kubernetes refused the request \(HTTP 422\)/);
  });

  it('the watcher reads Kubernetes failures as the worker does: only transient ones are retried', () => {
    const notFound = JSON.stringify({ kind: 'Status', reason: 'NotFound', code: 404 });
    // a namespace (or object) that is not there: retrying will not bring it
    assert.equal(kubeFailureKind(new ApiException(404, 'x', notFound, {})), 'conflict');
    assert.equal(isPermanentKubeError(new ApiException(404, 'x', notFound, {})), true);
    // a bare 404 (a CRD version not served yet after a restart) is worth another try
    assert.equal(isPermanentKubeError(new ApiException(404, 'x', '404 page not found', {})), false);
    assert.equal(kubeFailureKind(new ApiException(403, 'x', '{}', {})), 'permission');
    assert.equal(isPermanentKubeError(new ApiException(409, 'x', '{}', {})), false);
    assert.equal(isPermanentKubeError(new KubeTimeoutError('patch', 10_000)), false);
    assert.equal(kubeFailureKind(typeError()), 'bug');
  });

  it('Vault and Consul: 403 is permission naming the token and what to grant; other 4xx a rejection', () => {
    const vault403 = Object.assign(new Error('permission denied'), {
      response: { statusCode: 403, body: { errors: ['permission denied'] } },
    });
    const vault = classified('Vault', vault403);
    assert.equal(vault.type, FAILURE.permissionDenied);
    assert.match(
      vault.message,
      /Vault refused the worker's credentials: HTTP 403: permission denied\. Grant the worker's Vault token/,
    );
    const consul = classified(
      'Consul',
      new papi.ResponseError('Permission denied', { statusCode: 403 }),
    );
    assert.equal(consul.type, FAILURE.permissionDenied);
    assert.match(
      consul.message,
      /Consul refused the worker's credentials: HTTP 403: .*Consul ACL token/,
    );
    const missing = classified(
      'Consul',
      new papi.ResponseError('bad request', { statusCode: 400 }),
    );
    assert.equal(missing.type, FAILURE.storeRejected);
    assert.equal(kindOf(missing.type), 'conflict');
  });

  it('a refused connection is transient for every adapter, though fetch calls it a TypeError', async () => {
    const refused = await refusedFetch();
    assert.ok(refused instanceof TypeError);
    for (const system of ['AWS', 'Vault', 'Consul', 'Kubernetes'] as const) {
      assert.equal(classified(system, refused).type, FAILURE.transient, system);
    }
    const consul = new papi.PapiError(
      Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    );
    assert.equal(classified('Consul', consul).type, FAILURE.transient);
  });

  it('AWS credentials not obtained (IMDS or the pod-identity agent slow) are transient, not a refusal', () => {
    // the SDK's provider chain ends so when no provider answered; no AWS service refused anything
    for (const name of ['CredentialsProviderError', 'ProviderError', 'TokenProviderError']) {
      const error = Object.assign(new Error('Could not load credentials from any providers'), {
        name,
        tryNextLink: false,
      });
      const failure = classified('AWS', error, PERSISTING_ATTEMPTS - 1);
      assert.equal(failure.type, FAILURE.transient, name);
      assert.equal(failure.nonRetryable, false, name);
      // persisting, it is a setup to fix: a long wait must not hide it for hours
      const persisting = classified('AWS', error, PERSISTING_ATTEMPTS);
      assert.equal(persisting.type, FAILURE.permissionDenied, name);
      assert.equal(persisting.nonRetryable, true, name);
    }
  });

  it('a TLS handshake or an unparsable answer is transient: a certificate rotating is no bug', () => {
    for (const code of [
      'CERT_HAS_EXPIRED',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'ERR_TLS_CERT_ALTNAME_INVALID',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'HPE_INVALID_CONSTANT',
    ]) {
      const error = Object.assign(new Error(`tls: ${code}`), { code });
      for (const system of ['AWS', 'Vault', 'Consul', 'Kubernetes'] as const)
        assert.equal(
          classified(system, error, PERSISTING_ATTEMPTS - 1).type,
          FAILURE.transient,
          code,
        );
    }
    // a code of Node's for a bug of ours stays one
    const misuse = Object.assign(new TypeError('bad argument'), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.equal(verdictOf('Kubernetes', misuse).type, FAILURE.bug);
  });

  it('passes failures already classified through unchanged', () => {
    const notOurs = ApplicationFailure.nonRetryable('not ours', FAILURE.instanceNotOurs);
    assert.equal(classifyError('AWS', 'x', notOurs, 1), notOurs);
  });
});

describe('a bug (an error with no status)', () => {
  const broken = atActivityEdge({
    async createDbInstance(): Promise<void> {
      await Promise.resolve();
      throw typeError() as Error;
    },
  });

  it(`is retried for ${BUG_ATTEMPTS - 1} attempts, then fails for good with advice, its stack only in the log`, async () => {
    const logged: Logged[] = [];
    for (let attempt = 1; attempt <= BUG_ATTEMPTS; attempt++) {
      const failure = await asActivity(attempt, broken.createDbInstance, logged).then(
        () => assert.fail('resolved'),
        (e: unknown) => e as ApplicationFailure,
      );
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, FAILURE.bug);
      assert.equal(failure.nonRetryable, attempt === BUG_ATTEMPTS, `attempt ${attempt}`);
      assert.doesNotMatch(failure.message, /errors\.test\.ts|\n\s+at /);
      if (attempt === BUG_ATTEMPTS) {
        // the error's name only: a TypeError's message may quote a value (a header, a token)
        assert.match(
          failure.message,
          /^createDbInstance: internal error \(TypeError\), 3 attempts/,
        );
        assert.match(failure.message, /bug in rdsflow: the worker's log has the stack/);
      }
    }
    const lines = logged.filter((l) => l.message.startsWith('unclassified error'));
    assert.equal(lines.length, BUG_ATTEMPTS);
    const last = lines.at(-1)?.meta;
    assert.equal(last?.['step'], 'createDbInstance');
    assert.match(String(last?.['stack']), /at .*errors\.test\.ts/);
  });

  it('never quotes a SyntaxError, which may carry what was parsed', async () => {
    const parsing = atActivityEdge({
      async readMasterPassword(): Promise<unknown> {
        await Promise.resolve();
        return JSON.parse('hunter2-secret-value') as unknown;
      },
    });
    const logged: Logged[] = [];
    const failure = await asActivity(BUG_ATTEMPTS, parsing.readMasterPassword, logged).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as ApplicationFailure,
    );
    assert.equal(failure.type, FAILURE.bug);
    assert.doesNotMatch(failure.message, /hunter2/);
    assert.doesNotMatch(JSON.stringify(logged), /hunter2/);
  });

  it('never quotes the value a Node argument check received (ERR_INVALID_ARG_TYPE quotes it)', async () => {
    const misuse = atActivityEdge({
      async sizeOf(): Promise<unknown> {
        await Promise.resolve();
        return Buffer.alloc('hunter2-secret-value' as unknown as number);
      },
    });
    const logged: Logged[] = [];
    const failure = await asActivity(BUG_ATTEMPTS, misuse.sizeOf, logged).then(
      () => assert.fail('resolved'),
      (e: unknown) => e as ApplicationFailure,
    );
    assert.equal(failure.type, FAILURE.bug);
    assert.match(failure.message, /TypeError ERR_INVALID_ARG_TYPE/);
    assert.doesNotMatch(failure.message, /hunter2/);
    assert.doesNotMatch(JSON.stringify(logged), /hunter2/);
  });
});

describe('reading the object back, which a delete waits on', () => {
  const ref = { namespace: 'shop', name: 'orders', uid: 'u-1' };
  const readingWith = (error: Error) =>
    createKubeStatusActivities({
      kube: {
        getNamespacedCustomObject: () => Promise.reject(error),
      } as unknown as DatabaseApi,
      events: {} as EventApi,
    }).readObject(ref);

  it('is retried while the certificate or the answer is unreadable, then ends for a person', async () => {
    const rotating = Object.assign(new Error('certificate has expired'), {
      code: 'CERT_HAS_EXPIRED',
    });
    const early = await asActivity(PERSISTING_ATTEMPTS - 1, () => readingWith(rotating)).then(
      () => assert.fail('read without an answer'),
      (e: unknown) => e as ApplicationFailure,
    );
    assert.equal(early.type, FAILURE.transient);
    assert.equal(early.nonRetryable, false);
    const persisting = await asActivity(PERSISTING_ATTEMPTS, () => readingWith(rotating)).then(
      () => assert.fail('read without an answer'),
      (e: unknown) => e as ApplicationFailure,
    );
    assert.equal(persisting.type, FAILURE.bug);
    assert.equal(persisting.nonRetryable, true);
  });

  it('ends only on a refusal of the worker credentials, naming Kubernetes', async () => {
    const failure = await asActivity(1, () =>
      readingWith(new ApiException(403, 'Forbidden', '{}', {})),
    ).then(
      () => assert.fail('read without permission'),
      (e: unknown) => e,
    );
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, FAILURE.permissionDenied);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /Kubernetes/);
  });
});
