// What the `rdsflow` command says of itself: its exit codes and its help, per command.
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  noDatabase: 3,
  noWorkflow: 4,
  temporalUnreachable: 5,
  kubeUnreachable: 6,
  endedBadly: 7,
} as const;

export const HELP: Record<string, string> = {
  '': `rdsflow — operate the databases rdsflow provisions

usage: rdsflow <command> [arguments] [--json] [--help]

commands:
  list                          Databases with phase, engine, endpoint (-n NAMESPACE, -A all)
  describe <ref> [--watch]      the object's status and its workflow's live status
  history <ref>                 step timeline of every run: step, attempts, duration, errors
  approve <ref> [--watch]       show the generation waiting for approval, and approve it
  cancel <ref> [--watch]        cancel its workflow: roll back this run, phase Cancelled
                                (--yes for an Available database)
  retry <ref> [--watch]         re-run a Failed database's step now
  adopt <ref> [--watch]         take back what a deleted or vanished Database of this name
                                left behind (sets spec.adoptRetained)
  signal <ref> <signal> [json]  send a workflow signal: approve, retry, delete, specChanged,
                                objectGone (the workflow refuses one naming another object)

<ref> is <namespace>/<name>, looked up in Kubernetes, or a workflow ID
database/<namespace>/<name>/<uid>@<cluster>, which needs only Temporal.

environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, RDSFLOW_TASK_QUEUE, KUBECONFIG,
  RDSFLOW_CLUSTER_ID, RDSFLOW_TEMPORAL_UI

exit codes: 0 done; 1 failed; 2 bad usage, or a destructive command without --yes; 3 no such
  Database; 4 no workflow for it (yet); 5 Temporal unreachable; 6 Kubernetes unreachable;
  7 --watch saw it end Failed or Cancelled
`,
  list: `usage: rdsflow list [-n NAMESPACE | -A] [--json]

Lists Database objects (from Kubernetes) with phase, engine, endpoint, age and last message.
`,
  describe: `usage: rdsflow describe <ref> [--watch] [--json]

Shows the object's status (phase, endpoint, where the secret is) and the live status of its
workflow (stage, step, attempt, last error), with a Temporal UI link. --watch follows phase and
step until the database is Available, Failed or Cancelled (--json: one JSON line per change).
`,
  history: `usage: rdsflow history <ref> [--json]

Every run of the database's workflow (provision, serve, modify, delete) with its steps:
attempts, duration, outcome and the last error, and the signals it received.
`,
  approve: `usage: rdsflow approve <ref> [--watch] [--json]

Shows what waits for approval (generation, engine, class, storage, Multi-AZ, deletion policy)
and approves exactly that generation, with your user name. A spec changed meanwhile waits for
an approval of its own. Exit 1 when nothing waits for approval.
`,
  cancel: `usage: rdsflow cancel <ref> [--yes] [--watch] [--json]

Cancels the workflow: what the current run created is rolled back per deletionPolicy (an
instance it adopted is never deleted) and the object ends with phase Cancelled. A later spec
change starts it again. An Available database needs --yes: rdsflow stops acting on it.
`,
  retry: `usage: rdsflow retry <ref> [--watch] [--json]

Sends the retry signal: a Failed database re-runs the failed stage now.
`,
  adopt: `usage: rdsflow adopt <namespace>/<name> [--watch] [--json]

Takes back, explicitly, the RDS instance and credentials a deleted Database of this namespace
and name left behind: kept under deletionPolicy Retain, or orphaned because the object vanished
without a delete (its finalizer removed by hand, a cluster restored from a backup). It sets
spec.adoptRetained: true on the Database (the same as editing it); rdsflow then takes the
instance over (recording the former owner's UID in status.adoptedFrom) and resets its master
password. Under requireApproval the change waits for \`rdsflow approve\` like any other.
`,
  signal: `usage: rdsflow signal <ref> <signal> [json] [--json]

Sends any of the workflow's signals: approve '{"generation":N,"by":"me"}', retry, delete,
specChanged, objectGone. delete, specChanged and objectGone name the object: without a JSON
argument, the Database as Kubernetes has it now. The workflow refuses (Warning Event
SignalRefused) a signal that names another object or cluster, and reads the object back before
a delete: it deletes only a Database a user deleted (kubectl delete). The same as: temporal
workflow signal --workflow-id <id> --name <signal> --input <json>
`,
};
