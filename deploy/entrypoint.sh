#!/bin/sh
# Chooses the process this container runs: worker, watcher, or the rdsflow CLI, each the
# compiled JavaScript of `npm run build` on plain node.
set -eu
cd /app
role=${1:-worker}
[ $# -gt 0 ] && shift
# V8's young generation kept small, and the watcher's heap bounded: what they hold per object
# is small and the rest is garbage (npm run bench: the watcher idles at ~130 MiB instead of
# ~163 and peaks at ~199 MiB through a burst of 10,000 objects, 8.5 ms of CPU per object).
# A NODE_OPTIONS given to the container replaces these.
case "$role" in
  worker) : "${NODE_OPTIONS:=--max-semi-space-size=2}" ;;
  watcher) : "${NODE_OPTIONS:=--max-semi-space-size=2 --max-old-space-size=128}" ;;
esac
export NODE_OPTIONS="${NODE_OPTIONS:-}"
case "$role" in
  worker) exec node dist/worker/main.js "$@" ;;
  watcher) exec node dist/watcher/main.js "$@" ;;
  cli) exec node dist/cli/rdsflow.js "$@" ;;
  *) echo "usage: rdsflow-entrypoint worker|watcher|cli [args]" >&2; exit 2 ;;
esac
