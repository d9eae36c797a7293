#!/bin/sh
# A failing step, retried and then skipped, through the rattan command
# line alone (examples/retry_skip.json: backup -> migrate -> wait -> notify).
#
#   RATTAN=build/rattan RATTAN_DB=/tmp/rattan-retry-skip examples/retry_skip.sh
#
# Every command is its own process: the store directory carries the task
# from one to the next. A virtual clock, a seed and fixed trace ids make the
# whole output the same on every run.
set -eu

RATTAN=${RATTAN:-build/rattan}
DB=${RATTAN_DB:-/tmp/rattan-retry-skip}
TREE=$(dirname "$0")/retry_skip.json
TASK=nightly-1
NODE=migrate

# The virtual clock starts at 10:00 and jumps over every wait (the 60 s
# timer finishes at once, 60 s later); each command resumes it where the
# store last saw it.
r() {
  "$RATTAN" --db "$DB" --clock virtual:2024-01-01T10:00:00+08:00 --seed 42 "$@"
}

rm -rf "$DB"

echo "== run: backup finishes, then migrate (the fail component) fails and"
echo "== stops its branch; run prints the task id"
r run "$TREE" --id "$TASK"

echo "== status: the task and migrate are FAILED; --with-ex-data gives the"
echo "== failure's ex_data, the fail component's input message"
r status "$TASK" --with-ex-data --pretty --trace-id 1-failed

echo "== retry: migrate runs again (drive runs it) and fails again;"
echo "== drive prints the root pipeline's own state, which a failed node"
echo "== leaves RUNNING, while get_task_status reports FAILED with retry 1"
r node "$TASK" "$NODE" retry
r drive "$TASK"
r status "$TASK" --with-ex-data --pretty --trace-id 2-retried

echo "== skip: migrate finishes as skipped; drive runs wait (60 virtual"
echo "== seconds) and notify to the end"
r node "$TASK" "$NODE" skip
r drive "$TASK"

echo "== status: FINISHED; migrate shows \"skip\": true and \"retry\": 1"
r status "$TASK" --pretty --trace-id 3-finished
