#!/bin/sh
# Chooses the process this container runs: worker, watcher, or the rdsflow CLI.
set -eu
cd /app
role=${1:-worker}
[ $# -gt 0 ] && shift
case "$role" in
  worker) exec node --import tsx worker/main.ts "$@" ;;
  watcher) exec node --import tsx watcher/main.ts "$@" ;;
  cli) exec node bin/rdsflow.js "$@" ;;
  *) echo "usage: rdsflow-entrypoint worker|watcher|cli [args]" >&2; exit 2 ;;
esac
