#!/usr/bin/env bash
# The main job on the embedded default: the example FastAPI app (uvicorn, 4 workers) runs as a
# Lambda function under `snapbus emulate --snapstart`, behind the snapbus adapter from the Lambda
# layer (build/layer/packaging/snapbus-layer-*.zip, unzipped as the function's /opt: bootstrap,
# extensions/snapbus, python/), exactly as it would in Lambda with the layer and
# AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap. The adapter creates the segment, waits for
# the app, runs before-snapshot in every worker, the emulator freezes every process and thaws
# them, the adapter runs every worker's after-restore hooks, and only then takes invocations.
# A few requests through the Function URL front door show each worker's fresh token and pool.
# Then it stops the function as Lambda would, and each worker closes its pool once.
#
#   examples/demo.sh        (after ./setup.sh has built build/default; SNAPBUS_BUILD_DIR picks another
#                            build, WORKERS another number of uvicorn workers)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SNAPBUS_BUILD_DIR:-$PWD/build/default}
snapbus=$build/cli/snapbus
workers=${WORKERS:-4}
[[ -x $snapbus ]] || { echo "demo: $snapbus is missing: run ./setup.sh first" >&2; exit 1; }

work=$(mktemp -d /tmp/snapbus-demo.XXXXXX)
export SNAPBUS_SEGMENT=$work/snapbus.seg
app_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
emulator_pid=
cleanup() {
  [[ -n $emulator_pid ]] && kill -TERM "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The function's /opt is the Lambda layer itself, unzipped, as Lambda would; without one (a build
# that skipped the layer preset) the build tree's layout of the same files.
layer_zip=$(compgen -G "${SNAPBUS_LAYER_DIR:-$PWD/build/layer}/packaging/snapbus-layer-*.zip" | head -n 1 || true)
if [[ -n $layer_zip ]]; then
  opt=$work/opt
  unzip -q "$layer_zip" -d "$opt"
  echo "demo: the layer $layer_zip, unzipped as the function's /opt"
else
  opt=$build/opt
  echo "demo: no layer built (cmake --preset layer && cmake --build --preset layer); using $opt"
fi

echo "demo: snapbus emulate --snapstart --opt $opt --handler run.sh (segment $SNAPBUS_SEGMENT, app port $app_port)"
# SNAPBUS_EXPECT_SUBSCRIBERS: the adapter takes the snapshot only once every worker has subscribed.
# 512 MB: each Python worker holds about 35 MB, more than Lambda's default 128 MB holds for four.
"$snapbus" emulate --snapstart --port 0 --runtime-api-port 0 --ready-file "$work/ready.json" \
  --json "$work/report.json" --opt "$opt" --handler run.sh --task-root "$PWD/examples/fastapi" --memory-size 512 \
  --function-name snapbus-demo --env AWS_LWA_PORT="$app_port" --env AWS_LWA_READINESS_CHECK_PATH=/ \
  --env WORKERS="$workers" --env SNAPBUS_EXPECT_SUBSCRIBERS="$workers" --env PYTHON=/usr/bin/python3 &
emulator_pid=$!

for _ in $(seq 600); do [[ -s $work/ready.json ]] && break; sleep 0.1; done
[[ -s $work/ready.json ]] || { echo "demo: the emulator did not come up within 60 s" >&2; exit 1; }
front_door=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frontDoor"])' "$work/ready.json")

echo "demo: six requests through the Function URL front door http://$front_door/"
for i in 1 2 3 4 5 6; do
  curl -sS --fail --max-time 60 "http://$front_door/" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
pool = r["pool"]["opened_at_generation"]
# One write, newline included: the emulator writes its log lines to the same terminal, and print()
# makes two writes under PYTHONUNBUFFERED.
sys.stdout.write("  worker pid %s: generation %s, token %s..., pool opened at generation %s, phase %s\n"
                 % (r["pid"], r["generation"], r["instance_token"][:12], pool, r["phase"]))
# After the restore every worker must have reopened its pool: a pool from generation 0 would hold
# connections that died with the snapshot.
sys.exit(0 if r["generation"] == 1 and pool == 1 else "demo: this worker missed its after-restore hooks")'
done

echo "demo: snapbus status"
"$snapbus" status

echo "demo: stopping the function as Lambda does: SIGTERM to the app (each worker closes its pool as it exits;"
echo "      Lambda gives the runtime 300 ms of its 2 s, then SIGKILL, which uvicorn's supervisor can need),"
echo "      then SHUTDOWN to the adapter"
kill -TERM "$emulator_pid"
wait "$emulator_pid" || { echo "demo: the emulator did not stop cleanly" >&2; exit 1; }
emulator_pid=
