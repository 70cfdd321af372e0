#!/bin/sh
# Handler for proxy mode: the extension (SNAPBUS_MODE=proxy) is a Runtime API proxy on
# $SNAPBUS_PROXY_PORT that runs the SnapStart bracket; the runtime client is the layer's adapter
# in web mode with its own bracket off, a plain LWA-style client that talks to Lambda through the
# proxy, as Lambda Web Adapter does with AWS_LWA_LAMBDA_RUNTIME_API_PROXY.
set -eu
"$(dirname "$0")/run_uvicorn.sh" &
SNAPBUS_MODE=web SNAPBUS_BRACKET=off AWS_LWA_LAMBDA_RUNTIME_API_PROXY="127.0.0.1:$SNAPBUS_PROXY_PORT" \
  exec "${LAYER_DIR:-/opt}/extensions/snapbus" adapter
