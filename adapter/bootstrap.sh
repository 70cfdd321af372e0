#!/bin/sh
# /opt/bootstrap, the exec wrapper of the snapbus layer (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap), as
# Lambda Web Adapter's: it runs the function's handler script, $LAMBDA_TASK_ROOT/$_HANDLER (run.sh,
# which starts the web server), in place of the runtime Lambda would have started. In proxy mode a
# handler that is no file (a managed runtime's "module.function") means the runtime it wraps runs, as
# does a command given to it outside an exec wrapper's role (AWS_LAMBDA_EXEC_WRAPPER unset).
#
# What it adds for the app's processes:
# - SNAPBUS_SEGMENT, so every worker maps the segment the adapter created (default /tmp/snapbus.seg:
#   Lambda has no /dev/shm);
# - for the handler script, the layer's Python package (/opt/python) on PYTHONPATH, and with
#   SNAPBUS_ZERO_CODE on its startup directory first: every Python process then starts snapbus, so
#   each runs its hooks without a line of the app changed. Behind a run.sh that sets
#   PYTHONPATH=/opt/python:... (as some of LWA's examples do), the layer's python/sitecustomize.py,
#   a copy of the startup directory's, does the same. A wrapped managed runtime gets no
#   PYTHONPATH: its bootstrap.py adds /opt/python (and runs the layer's snapbus-zero-code.pth) only
#   when PYTHONPATH is unset;
# - in web mode, the layer's listen notice library (lib/libsnapbus-listen-notice.so) first on
#   LD_PRELOAD, unless SNAPBUS_LISTEN_NOTICE is off: each process then tells the adapter that it
#   started and when it listens, so the adapter checks readiness at that moment instead of polling
#   every millisecond;
# - in proxy mode (SNAPBUS_MODE=proxy), AWS_LAMBDA_RUNTIME_API pointed at the proxy, so a runtime
#   client snapbus does not replace (awslambdaric, a custom runtime) talks to Lambda through it.
#
# Values are read as the adapter and the Python package read them: trimmed, case-insensitive, with
# booleans as 1/0, true/false, yes/no or on/off; a value they would refuse stops it here too (exit 2).
set -eu

fail() {
  echo "snapbus bootstrap: $2" >&2
  exit "$1"
}

# Sets `value` to the variable named $1 without surrounding blanks, else to $2. (No command
# substitution: each would fork, and this runs before every cold start.)
read_setting() {
  eval "value=\${$1:-}"
  value=${value#"${value%%[![:space:]]*}"}
  value=${value%"${value##*[![:space:]]}"}
  value=${value:-$2}
}

# Whether the boolean variable named $1 (default $2) is on.
enabled() {
  read_setting "$1" "$2"
  case $value in
    1 | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn]) return 0 ;;
    0 | [Ff][Aa][Ll][Ss][Ee] | [Nn][Oo] | [Oo][Ff][Ff]) return 1 ;;
    *) fail 2 "$1='$value': expected one of 1/0, true/false, yes/no, on/off" ;;
  esac
}

layer_dir=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
export SNAPBUS_SEGMENT="${SNAPBUS_SEGMENT:-/tmp/snapbus.seg}"
# The adapter runs in /opt and the app in its task root: a relative path would name two files.
case $SNAPBUS_SEGMENT in
  /*) ;;
  *) fail 2 "SNAPBUS_SEGMENT='$SNAPBUS_SEGMENT': expected an absolute path" ;;
esac
read_setting SNAPBUS_MODE web
case $value in
  [Ww][Ee][Bb]) mode=web ;;
  [Pp][Rr][Oo][Xx][Yy]) mode=proxy ;;
  *) fail 2 "SNAPBUS_MODE='$value': expected web or proxy" ;;
esac

if [ "$mode" = proxy ]; then
  read_setting SNAPBUS_PROXY_PORT 9009
  case $value in
    *[!0-9]* | ?????*?) fail 2 "SNAPBUS_PROXY_PORT='$value': expected a port from 1 to 65535" ;;
  esac
  [ "$value" -ge 1 ] && [ "$value" -le 65535 ] || fail 2 "SNAPBUS_PROXY_PORT='$value': expected a port from 1 to 65535"
  export AWS_LAMBDA_RUNTIME_API="127.0.0.1:$value"
else
  listen_notice="$layer_dir/lib/libsnapbus-listen-notice.so"
  if enabled SNAPBUS_LISTEN_NOTICE 1 && [ -f "$listen_notice" ]; then
    export LD_PRELOAD="$listen_notice${LD_PRELOAD:+:$LD_PRELOAD}"
  fi
fi

handler="${LAMBDA_TASK_ROOT:-.}/${_HANDLER:-}"
handler_is_file=false
if [ -n "${_HANDLER:-}" ] && [ -f "$handler" ]; then handler_is_file=true; fi
# In proxy mode the command given runs when the handler is no file (a managed runtime's
# "module.function"), and when the wrapper was called by name rather than as Lambda's exec wrapper
# (`exec /opt/bootstrap ./my-runtime` in an OS-only runtime's own bootstrap): a handler file there
# (Bref's index.php, a shell runtime's function.sh) is the runtime's to load.
if [ "$mode" = proxy ] && [ "$#" -gt 0 ] && { [ "$handler_is_file" = false ] || [ -z "${AWS_LAMBDA_EXEC_WRAPPER:-}" ]; }; then
  enabled SNAPBUS_ZERO_CODE 0 || true # a malformed value stops here, before the runtime starts
  exec "$@"
fi
if [ "$handler_is_file" = true ]; then
  # As LWA's wrapper: a script that lost its mode (a zip made on Windows) is an error, never a reason
  # to start something else.
  [ -x "$handler" ] || fail 126 "the handler '$handler' is not executable (chmod 755 it before zipping)"
  python_dir="$layer_dir/python"
  if [ -d "$python_dir/snapbus" ]; then
    PYTHONPATH="$python_dir${PYTHONPATH:+:$PYTHONPATH}"
    # The task root last: the package needs cffi, which usually comes with the function's own
    # dependencies there, and zero-code mode imports it while site runs, before Python puts the
    # script's directory (or, for -m, the working directory) on sys.path.
    if [ -n "${LAMBDA_TASK_ROOT:-}" ]; then
      PYTHONPATH="$PYTHONPATH:$LAMBDA_TASK_ROOT"
    fi
    # Also the startup directory first: if another layer's python/sitecustomize.py took the place of
    # snapbus's copy in /opt (layers unzip into one directory), this one still starts zero-code mode
    # and runs that one.
    if enabled SNAPBUS_ZERO_CODE 0; then
      PYTHONPATH="$python_dir/snapbus/_startup:$PYTHONPATH"
    fi
    export PYTHONPATH
  fi
  exec "$handler"
fi
if [ "$mode" = web ]; then
  fail 127 "the handler '$handler' is not a file: in web mode _HANDLER names the script that starts your web server (e.g. run.sh, executable); for a managed runtime's handler such as app.handler, set SNAPBUS_MODE=proxy"
fi
fail 127 "the handler '$handler' is not a file, and no runtime command was given to wrap (is AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap set?)"
