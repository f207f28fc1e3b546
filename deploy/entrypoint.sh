#!/bin/sh
# Chooses the process this container runs: worker, watcher, or the rdsflow CLI, each the
# compiled JavaScript of `npm run build` on plain node.
set -eu
cd /app
role=${1:-worker}
[ $# -gt 0 ] && shift
case "$role" in
  worker) exec node dist/worker/main.js "$@" ;;
  watcher) exec node dist/watcher/main.js "$@" ;;
  cli) exec node dist/cli/rdsflow.js "$@" ;;
  *) echo "usage: rdsflow-entrypoint worker|watcher|cli [args]" >&2; exit 2 ;;
esac
