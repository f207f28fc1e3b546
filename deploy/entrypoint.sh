#!/bin/sh
# Chooses the process this container runs: worker, watcher, or the rdsflow CLI, each the
# compiled JavaScript of `npm run build` on plain node.
set -eu
cd /app
role=${1:-worker}
[ $# -gt 0 ] && shift
# V8's young generation kept small, and the watcher's heap bounded: what they hold per object
# is small and the rest is garbage. The watcher also gets two malloc arenas, not glibc's 16 on
# two cores (npm run bench, 10,000 objects at once: peak 147 MiB instead of 155). A NODE_OPTIONS
# or MALLOC_ARENA_MAX given to the container replaces these; docs/benchmarks.md has the runs.
case "$role" in
  worker) : "${NODE_OPTIONS:=--max-semi-space-size=2}" ;;
  watcher)
    : "${NODE_OPTIONS:=--max-semi-space-size=2 --max-old-space-size=128}"
    : "${MALLOC_ARENA_MAX:=2}"
    export MALLOC_ARENA_MAX
    ;;
esac
export NODE_OPTIONS="${NODE_OPTIONS:-}"
case "$role" in
  worker) exec node dist/worker/main.js "$@" ;;
  watcher) exec node dist/watcher/main.js "$@" ;;
  cli) exec node dist/cli/rdsflow.js "$@" ;;
  *) echo "usage: rdsflow-entrypoint worker|watcher|cli [args]" >&2; exit 2 ;;
esac
