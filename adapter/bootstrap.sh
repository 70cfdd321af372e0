#!/bin/sh
# /opt/bootstrap, the exec wrapper of the snapbus layer (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap), as
# Lambda Web Adapter's: it runs the function's handler script, $LAMBDA_TASK_ROOT/$_HANDLER (run.sh,
# which starts the web server), in place of the runtime Lambda would have started. When the handler
# is not an executable file (a managed runtime's "module.function"), it runs the runtime it wraps.
#
# What it adds for the app's processes:
# - SNAPBUS_SEGMENT, so every worker maps the segment the adapter created (default /tmp/snapbus.seg:
#   Lambda has no /dev/shm);
# - the layer's Python package (/opt/python) on PYTHONPATH, and with SNAPBUS_ZERO_CODE=1 its startup
#   directory first, so every Python process runs its hooks without a line of the app changed;
# - in web mode, the layer's listen notice library (lib/libsnapbus-listen-notice.so) first on
#   LD_PRELOAD, unless SNAPBUS_LISTEN_NOTICE=0: each process then tells the adapter that it started
#   and when it listens, so the adapter checks readiness at that moment instead of polling every
#   millisecond;
# - in proxy mode (SNAPBUS_MODE=proxy), AWS_LAMBDA_RUNTIME_API pointed at the proxy, so a runtime
#   client snapbus does not replace (awslambdaric, a custom runtime) talks to Lambda through it.
set -eu

layer_dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
export SNAPBUS_SEGMENT="${SNAPBUS_SEGMENT:-/tmp/snapbus.seg}"
if [ "${SNAPBUS_MODE:-web}" = proxy ]; then
  export AWS_LAMBDA_RUNTIME_API="127.0.0.1:${SNAPBUS_PROXY_PORT:-9009}"
else
  listen_notice="$layer_dir/lib/libsnapbus-listen-notice.so"
  if [ "${SNAPBUS_LISTEN_NOTICE:-1}" != 0 ] && [ -f "$listen_notice" ]; then
    export LD_PRELOAD="$listen_notice${LD_PRELOAD:+:$LD_PRELOAD}"
  fi
fi

python_dir="$layer_dir/python"
if [ -d "$python_dir/snapbus" ]; then
  PYTHONPATH="$python_dir${PYTHONPATH:+:$PYTHONPATH}"
  if [ "${SNAPBUS_ZERO_CODE:-0}" = 1 ]; then
    PYTHONPATH="$python_dir/snapbus/_startup:$PYTHONPATH"
  fi
  export PYTHONPATH
fi

handler="${LAMBDA_TASK_ROOT:-.}/${_HANDLER:-}"
if [ -n "${_HANDLER:-}" ] && [ -f "$handler" ] && [ -x "$handler" ]; then
  exec "$handler"
fi
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
echo "snapbus bootstrap: the handler '$handler' is not an executable file (set _HANDLER to your start script, e.g. run.sh, and make it executable)" >&2
exit 127
