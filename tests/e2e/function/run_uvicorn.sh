#!/bin/sh
# Handler (run.sh in LWA's style): $APP (fastapi_app, or legacy_app) under uvicorn with $WORKERS
# workers on $AWS_LWA_PORT.
set -eu
exec "${PYTHON:-python3}" -m uvicorn "${APP:-fastapi_app}:app" --app-dir "$(dirname "$0")" \
  --host 127.0.0.1 --port "${AWS_LWA_PORT:-8080}" --workers "${WORKERS:-4}" \
  --log-level "${LOG_LEVEL:-warning}" --no-access-log
