// The database workflow's parameter groups and restores, in the time-skipping test server with
// stubbed activities: the group ensured before the instance is created or changed and named to
// it, the reboot a parameter waits for shown in status, the group deleted only with the
// instance, and a restore converged onto the password in Vault before anything is published.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResolvedDatabase } from '../../contracts/resolved.js';
import { changeSpec, deleted, env, reported, scenario, objectView, until } from './harness.js';

const PARAMETERS = { work_mem: '8192', shared_buffers: '16384' };

describe('database workflow: parameters and restores', () => {
  it('ensures the group before the create, attaches it, and shows what waits for a reboot', async () => {
    await scenario(
      (world) => {
        world.parameterGroup = { created: true, pendingReboot: ['shared_buffers'] };
        world.applyStatus = 'pending-reboot';
      },
      async ({ world, start }) => {
        const handle = await start(objectView({ parameters: PARAMETERS }));
        await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        const order = world.calls.filter((c) =>
          [
            'ensureMasterPassword',
            'ensureParameterGroup',
            'createDbInstance',
            'waitUntilAvailable',
            'readParameterStatus',
            'writeDbSecret',
          ].includes(c),
        );
        assert.deepEqual(order, [
          'ensureMasterPassword',
          'ensureParameterGroup',
          'createDbInstance',
          'waitUntilAvailable',
          'readParameterStatus',
          'writeDbSecret',
        ]);
        const created = world.createdWith[0] as ResolvedDatabase;
        assert.equal(created.parameterGroup, `${created.dbInstanceIdentifier}-postgres16`);
        const available = await reported(world, 'Available');
        assert.deepEqual(available?.parameters, {
          group: created.parameterGroup,
          pendingReboot: ['shared_buffers'],
        });
        assert.match(
          available?.message ?? '',
          /parameters shared_buffers apply at the instance's next reboot .*aws rds reboot-db-instance --db-instance-identifier .*rdsflow retry shop\//,
        );
      },
    );
  });

  it('on an edit, sets the group again (resetting what the spec dropped) before the instance is changed; rebooted, nothing is pending', async () => {
    await scenario(
      (world) => {
        world.parameterGroup = { created: true, pendingReboot: ['shared_buffers'] };
        world.applyStatus = 'pending-reboot';
      },
      async ({ world, start }) => {
        const object = objectView({ parameters: PARAMETERS });
        const handle = await start(object);
        await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        world.parameterGroup = { created: false, pendingReboot: [] };
        world.applyStatus = 'in-sync'; // the instance was rebooted meanwhile
        await changeSpec(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres', parameters: { work_mem: '65536' } },
        });
        await until(
          handle,
          'generation 2',
          (s) => s.phase === 'Available' && s.observedGeneration === 2,
        );
        assert.deepEqual(world.parametersBefore, [[], ['work_mem', 'shared_buffers']]);
        const afterEdit = world.calls.slice(world.calls.lastIndexOf('ensureParameterGroup'));
        assert.ok(afterEdit.indexOf('modifyDbInstance') > 0, afterEdit.join(','));
        const modified = world.modifiedWith.at(-1) as ResolvedDatabase;
        assert.equal(modified.parameterGroup, `${modified.dbInstanceIdentifier}-postgres16`);
        const available = await reported(world, 'Available');
        assert.deepEqual(available?.parameters, { group: modified.parameterGroup });
        assert.match(available?.message ?? '', /^available at [^;]+$/);
      },
    );
  });

  it('deletes the owned groups only after the instance is gone, and keeps them under Retain', async () => {
    for (const policy of ['Snapshot', 'Retain'] as const) {
      await scenario(
        () => {},
        async ({ world, start }) => {
          const object = objectView({ parameters: PARAMETERS, deletionPolicy: policy });
          const handle = await start(object);
          await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
          await deleted(world, handle, object);
          const tail = world.calls.slice(world.calls.lastIndexOf('deleteDbInstance'));
          if (policy === 'Retain') {
            assert.ok(
              !tail.includes('deleteParameterGroups'),
              'a retained instance lost its group',
            );
          } else {
            assert.deepEqual(tail.slice(0, 3), [
              'deleteDbInstance',
              'waitUntilDeleted',
              'deleteParameterGroups',
            ]);
            assert.deepEqual(world.groupDeletes, [undefined]);
          }
        },
      );
    }
  });

  it('a cancelled provisioning deletes the group only when this run created it', async () => {
    for (const created of [true, false]) {
      await scenario(
        (world) => {
          world.rds = 'not-yet';
          world.parameterGroup = { created, pendingReboot: [] };
        },
        async ({ world, start }) => {
          const handle = await start(
            objectView({ parameters: PARAMETERS, deletionPolicy: 'Delete' }),
          );
          await until(handle, 'waiting', (s) => s.step === 'waitUntilAvailable');
          await handle.cancel();
          await assert.rejects(handle.result());
          const db = world.createdWith[0] as ResolvedDatabase;
          assert.deepEqual(world.groupDeletes, created ? [[db.parameterGroup]] : []);
          const message = world.statuses.at(-1)?.message ?? '';
          if (created) assert.match(message, /DB parameter group /);
          else assert.doesNotMatch(message, /DB parameter group/);
        },
      );
    }
  });

  it('restores from the snapshot, resets the password to the one in Vault before publishing, and records the source', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const handle = await start(objectView({ source: { snapshot: 'shop-orders-final-abc' } }));
        await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        const order = world.calls.filter((c) =>
          ['createDbInstance', 'waitUntilAvailable', 'modifyDbInstance', 'writeDbSecret'].includes(
            c,
          ),
        );
        assert.deepEqual(order, [
          'createDbInstance',
          'waitUntilAvailable',
          'modifyDbInstance',
          'writeDbSecret',
        ]);
        const available = await reported(world, 'Available');
        assert.equal(available?.restoredFrom, 'shop-orders-final-abc');
        assert.ok(
          world.statuses.some((s) =>
            /restored RDS instance .* from snapshot shop-orders-final-abc/.test(s.message),
          ),
        );
      },
    );
  });

  it('refuses a change of source after creation, keeping the instance', async () => {
    await scenario(
      () => {},
      async ({ world, start }) => {
        const object = objectView({ source: { snapshot: 'shop-orders-final-abc' } });
        const handle = await start(object);
        await until(handle, 'Available', (s) => s.phase === 'Available' && s.stage === 'serve');
        const modifies = world.modifiedWith.length;
        await changeSpec(world, handle, {
          metadata: { ...object.metadata, generation: 2 },
          spec: { engine: 'postgres', source: { snapshot: 'another' } },
        });
        await env.sleep('1 second');
        const failed = await until(handle, 'Failed', (s) => s.phase === 'Failed');
        assert.match(failed.message, /spec\.source \(was shop-orders-final-abc\)/);
        assert.equal(world.modifiedWith.length, modifies);
      },
    );
  });
});
