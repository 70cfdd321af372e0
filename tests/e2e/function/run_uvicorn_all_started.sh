#!/bin/sh
# Handler for zero-code mode with several workers: there every Python process subscribes when its
# interpreter starts, before a worker has imported the app, so "every worker subscribed" does not
# mean "every worker loaded the app and registered its hooks". This runs run_uvicorn.sh with its log
# through readiness_gate.py, which opens $AWS_LWA_READINESS_CHECK_PORT (checked with
# AWS_LWA_READINESS_CHECK_PROTOCOL=tcp) once each of the $WORKERS workers has started the app.
set -eu
here=$(dirname "$0")
fifo=$(mktemp -u "${TMPDIR:-/tmp}/snapbus-uvicorn-log.XXXXXX")
mkfifo "$fifo"
"${PYTHON:-python3}" -I "$here/readiness_gate.py" "$AWS_LWA_READINESS_CHECK_PORT" "${WORKERS:-4}" <"$fifo" &
exec 2>"$fifo"
rm "$fifo"
LOG_LEVEL=info exec "$here/run_uvicorn.sh"
