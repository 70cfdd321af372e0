#!/bin/sh
# The Lambda Web Adapter handler: starts the web server on $PORT (LWA's AWS_LWA_PORT, 8080).
# snapbus needs nothing here: the app's hooks run in every worker, and the adapter waits for
# all of them before the first request after a restore.
set -eu
exec "${PYTHON:-python3}" -m uvicorn app:app \
  --app-dir "$(dirname "$0")" \
  --host "${HOST:-127.0.0.1}" --port "${PORT:-${AWS_LWA_PORT:-8080}}" \
  --workers "${WORKERS:-4}" --log-level "${LOG_LEVEL:-warning}"
