#!/bin/sh
# A CRIU action script that runs every subscriber's hooks around a checkpoint and a restore made
# with CRIU, as Lambda runs them around a SnapStart snapshot. Give it to both commands, with
# --file-locks: a subscriber's slot lock is how snapbus knows it is alive, and CRIU refuses to dump
# a process holding a lock without it.
#
#   criu dump    -t PID -D DIR --file-locks --action-script /path/to/snapbus-criu-action.sh
#   criu restore -D DIR --file-locks --restore-detached --action-script /path/to/snapbus-criu-action.sh
#
# CRIU executes it at each step, naming the step in CRTOOLS_SCRIPT_ACTION and the images directory
# in CRTOOLS_IMAGE_DIR:
#   pre-dump     the dump's first step, before CRIU freezes the processes, so they can still run their
#                hooks: `snapbus publish before-snapshot`. A failed or missing acknowledgement fails
#                the script, and CRIU then gives up the dump: no checkpoint of processes whose
#                before-snapshot hooks failed. The processes go on, with what their hooks closed
#                closed, so they get their after-restore hooks first (`snapbus publish restore`), as
#                CRaC runs afterRestore when a checkpoint fails. When the hooks succeed, the dump may
#                still fail later (a lock without --file-locks, an unsupported resource): CRIU then
#                thaws the processes and runs no other step, so pre-dump leaves a watcher behind that
#                waits for criu to exit and, when post-dump never came, publishes restore for them.
#   post-dump    the processes are frozen and the segment is as the snapshot sees it: a copy goes into
#                the images directory (snapbus-segment), as Lambda keeps /tmp in its snapshot.
#   pre-restore  before CRIU makes the processes: that copy is put back, so each copy restored from
#                the images starts from the snapshot's segment and runs its own restore once, whatever
#                copies restored before it left there. Not while live processes use the segment (the
#                processes a `criu dump --leave-running` left, or another copy): they would see it
#                change under them. Then the copy shares their segment and also runs the after-restore
#                hooks of their restores; give each copy its own SNAPBUS_SEGMENT to avoid that.
#   post-resume  once the restored processes run again: `snapbus publish restore` (generation + 1, a
#                fresh restore id, the after-restore hooks). CRIU logs a failure of this step but still
#                exits 0, so a failed hook shows only in its output and in `snapbus status`.
#   any other    nothing.
#
# SNAPBUS_SEGMENT (default /tmp/snapbus.seg) must name the processes' segment in criu's environment
# too. After `criu dump --leave-running`, the processes that were dumped go on in snapshot-ready
# with their before-snapshot hooks run: `snapbus publish restore` once criu dump returns gives them
# their after-restore hooks. `snapbus` is found on PATH; SNAPBUS_ACK_TIMEOUT_MS bounds each wait (5 s).
set -eu
segment=${SNAPBUS_SEGMENT:-/tmp/snapbus.seg}
saved=${CRTOOLS_IMAGE_DIR:-}/snapbus-segment
# Made by pre-dump and removed by post-dump: still there once criu has exited means the dump failed.
# Named by the images directory's own path: CRIU names it /proc/<its pid>/fd/<n>, which no longer
# resolves once criu has exited.
pending=$(readlink -f "${CRTOOLS_IMAGE_DIR:-.}")/snapbus-dump-pending
say() { echo "snapbus-criu-action.sh: ${CRTOOLS_SCRIPT_ACTION:-}: $*" >&2; }

# The criu process running this script: the nearest ancestor named criu, since CRIU starts action
# scripts through `sh -c`, so it need not be the parent. Fails outside CRIU.
criu_pid() {
  pid=$$
  while [ "$pid" -gt 1 ]; do
    pid=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
    [ -n "$pid" ] || return 1
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = criu ]; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

# Run in the background by pre-dump: no CRIU step follows a dump that fails after pre-dump, so
# this outlives the script, waits for criu ($1) to exit, and gives the processes their after-restore
# hooks when post-dump never ran and they are still in snapshot-ready.
restore_if_dump_failed() {
  # Exited means gone or a zombie: whoever started criu may reap it only once its output ends, which
  # this process, holding criu's stderr, would otherwise delay for ever.
  while state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) &&
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]; do
    sleep 0.1
  done
  [ -f "$pending" ] || return 0
  rm -f "$pending"
  if snapbus status --json --segment "$segment" 2>/dev/null | grep -q '"phase":"snapshot-ready"'; then
    say "criu (pid $1) exited without post-dump: the dump failed and the processes go on, so they run" \
      "their after-restore hooks to reopen what their before-snapshot hooks closed"
    snapbus publish restore || say "after-restore failed too: snapbus status shows who"
  fi
}

case "${CRTOOLS_SCRIPT_ACTION:-}" in
  pre-dump)
    failed=0
    snapbus publish before-snapshot || failed=$?
    # 1: published, and a hook failed or an acknowledgement is missing. Anything else: not published.
    if [ "$failed" -eq 1 ]; then
      say "before-snapshot failed, so CRIU gives up the dump; the processes go on, and run their" \
        "after-restore hooks to reopen what their before-snapshot hooks closed"
      snapbus publish restore || say "after-restore failed too: snapbus status shows who"
    elif [ "$failed" -eq 0 ] && dumper=$(criu_pid); then
      : >"$pending"
      restore_if_dump_failed "$dumper" </dev/null >&2 &
    fi
    exit "$failed"
    ;;
  post-dump)
    if [ -f "$segment" ]; then cp "$segment" "$saved"; fi
    # Only once the copy is made: if it fails, so does the dump, and the watcher must still act.
    rm -f "$pending"
    ;;
  pre-restore)
    if [ ! -f "$saved" ]; then
      say "no snapbus-segment in the images (dumped without this script?): the segment is left as it is"
    elif [ -f "$segment" ] && snapbus status --json --segment "$segment" | grep -q '"alive":true'; then
      say "live processes use $segment, so the restored copy shares it with them and also runs the" \
        "after-restore hooks of their restores (snapbus status names them; give each copy its own SNAPBUS_SEGMENT)"
    else
      # In place: the file keeps its inode, and no live process maps it.
      cp "$saved" "$segment"
    fi
    ;;
  post-resume) exec snapbus publish restore ;;
  "")
    echo "snapbus-criu-action.sh: CRTOOLS_SCRIPT_ACTION is not set; CRIU sets it when it runs this script" \
      "(criu dump|restore --action-script $0)" >&2
    exit 2
    ;;
  *) ;;
esac
