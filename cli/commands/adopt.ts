// `rdsflow adopt`: take back, explicitly, the RDS instance and credentials that a deleted or
// vanished Database of the same namespace and name left behind (retained, or orphaned by a
// finalizer removed by hand or a restore). It sets spec.adoptRetained on the new object, the
// one path to adoption: visible in the spec, validated by the schema, part of the generation
// the workflow applies (and approves, under requireApproval).
import { API_GROUP, API_VERSION, PLURAL } from '../../contracts/database.js';
import { mergePatch } from '../../kube/databases.js';
import { follow } from '../follow.js';
import { EXIT } from '../help.js';
import { CliError, kubeFailure } from '../session.js';
import { target, type Command } from './context.js';

export const adopt: Command = async (ctx) => {
  const { session, io, options, print } = ctx;
  const ref = ctx.args[0] ?? '';
  const { workflowId, object } = await target(ctx);
  if (!object) {
    throw new CliError('adopt needs <namespace>/<name>: it edits the Database object', EXIT.usage);
  }
  const { namespace, name } = object.metadata;
  if (object.spec.adoptRetained === true) {
    print(`${ref} already asks to adopt (spec.adoptRetained: true)\n`, { workflowId, adopt: true });
  } else {
    try {
      await session.kube.patchNamespacedCustomObject(
        {
          group: API_GROUP,
          version: API_VERSION,
          plural: PLURAL,
          namespace,
          name,
          body: { spec: { adoptRetained: true } },
        },
        mergePatch,
      );
    } catch (error: unknown) {
      throw kubeFailure(error, ref);
    }
    print(
      `${ref}: spec.adoptRetained set; rdsflow takes over the retained instance and credentials ` +
        'of this name (after approval, if the Database requires it)\n',
      { workflowId, adopt: true },
    );
  }
  return options.watch ? follow(session, io, options, workflowId) : EXIT.ok;
};
