#!/bin/sh
# Handler: the Flask app under gunicorn with $WORKERS sync workers on $AWS_LWA_PORT. No --preload:
# each worker imports the app, and so opens its own pool, after the fork.
set -eu
exec "${PYTHON:-python3}" -m gunicorn flask_app:app --chdir "$(dirname "$0")" \
  --bind "127.0.0.1:${AWS_LWA_PORT:-8080}" --workers "${WORKERS:-4}" --log-level warning
