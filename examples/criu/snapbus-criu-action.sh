#!/bin/sh
# A CRIU action script that runs every subscriber's hooks around a checkpoint and a restore made
# with CRIU, as Lambda runs them around a SnapStart snapshot. Give it to both commands, with
# --file-locks: a subscriber's slot lock is how snapbus knows it is alive, and CRIU refuses to dump
# a process holding a lock without it.
#
#   criu dump    -t PID -D DIR --file-locks --action-script /path/to/snapbus-criu-action.sh
#   criu restore -D DIR --file-locks --restore-detached --action-script /path/to/snapbus-criu-action.sh
#
# CRIU runs it (through sh -c) at each step, naming the step in CRTOOLS_SCRIPT_ACTION:
#   pre-dump     the dump's first step, before CRIU freezes the processes, so they can still run their
#                hooks: `snapbus publish before-snapshot`. A failed or missing acknowledgement fails
#                the script, and CRIU then gives up the dump: no checkpoint of processes whose
#                before-snapshot hooks failed.
#   post-resume  once the restored processes run again: `snapbus publish restore` (generation + 1, a
#                fresh restore id, the after-restore hooks). On a failure `criu restore` reports an error.
#   any other    nothing (exit 0). At post-dump the processes are still frozen, so nothing could run.
#
# The segment (SNAPBUS_SEGMENT, default /tmp/snapbus.seg) is a file CRIU does not save: the restored
# processes map the same file again, so it must still be there, on the same path, at the restore.
# After `criu dump --leave-running`, the processes that were dumped go on in snapshot-ready with their
# before-snapshot hooks run: `snapbus publish restore` once criu dump returns gives them their
# after-restore hooks. `snapbus` is found on PATH; SNAPBUS_ACK_TIMEOUT_MS bounds each wait (5 s).
set -eu
case "${CRTOOLS_SCRIPT_ACTION:-}" in
  pre-dump) exec snapbus publish before-snapshot ;;
  post-resume) exec snapbus publish restore ;;
  "")
    echo "snapbus-criu-action.sh: CRTOOLS_SCRIPT_ACTION is not set; CRIU sets it when it runs this script" \
      "(criu dump|restore --action-script $0)" >&2
    exit 2
    ;;
  *) exit 0 ;;
esac
