#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a working snapbus: installs every Debian package the
# project needs, configures and builds the default preset and the Lambda layer, installs AWS's Node.js
# runtime client from npm for the proxy's tests, then runs the demo (examples/demo.sh).
#
#   ./setup.sh              # install, build, run the demo
#   ./setup.sh --no-demo    # install and build only (CI uses this before the tests)
#
# Idempotent: packages already present are not fetched again, and the build is incremental.
set -euo pipefail
cd "$(dirname "$0")"

run_demo=1
for arg in "$@"; do
  case "$arg" in
    --no-demo) run_demo=0 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  build-essential cmake ninja-build clang libclang-rt-14-dev pkg-config
  # C++ libraries: Boost 1.81 (Boost.JSON needs 1.75+; Debian's default is 1.74)
  libboost1.81-dev libboost-json1.81-dev
  capnproto libcapnp-dev libfmt-dev libcli11-dev zlib1g-dev libbrotli-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # Python: Debian's interpreter and its packages, never PyPI
  python3 python3-dev python3-cffi python3-pytest python3-setuptools python3-pip python3-wheel
  python3-fastapi python3-uvicorn python3-flask python3-httpx python3-requests python3-gunicorn
  python3-psycopg2 python3-sqlalchemy
  # tools the tests and demo use; PostgreSQL for the scenario tests (tests/e2e), which start their own server;
  # nginx as the reverse-proxy baseline of benchmarks/adapter_bench (started by the benchmark, never as a service);
  # unzip for the layer check (packaging/), which unpacks the layer as Lambda does
  procps curl postgresql nginx-light unzip
  # the format check and static analysis CI runs (.ci/check-format, .ci/run-clang-tidy)
  clang-format clang-tidy
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#packages[@]} Debian packages already installed"
fi

# The presets switched to Ninja; a build directory configured before with another generator cannot
# be reconfigured in place, so it starts over (only CMake's cache and outputs live there).
for cache in build/*/CMakeCache.txt; do
  if [[ -f $cache ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$cache"; then
    echo "setup: $(dirname "$cache") was configured with another generator; removing it for Ninja"
    rm -rf "$(dirname "$cache")"
  fi
done

echo "setup: configuring and building (preset 'default')"
cmake --preset default
cmake --build --preset default -j "$(nproc)"

# The Lambda layer (what you deploy, and what the demo runs as the function's /opt) and the wheel:
# build/layer/packaging/ (packaging/README.md).
echo "setup: building the Lambda layer and the wheel (preset 'layer')"
cmake --preset layer
cmake --build --preset layer -j "$(nproc)"

# AWS's Node.js runtime interface client, a real client that proxy mode's tests run behind the proxy
# (tests/python/test_adapter_proxy_node_ric.py), from npm's registry at the version tests/node-ric
# pins. Its install scripts compile the client's bundled aws-lambda-cpp and curl and its native addon
# (about a minute and a half on 2 cores). It declares Node.js 22 or newer; Node.js 20 runs it (the
# tests are the proof), and npm's warning about that is expected. Older Node.js, no npm or no
# registry: those tests skip; with SNAPBUS_REQUIRE_NODE=1 (CI) setup fails instead.
node_ric=tests/node-ric
node_ric_unavailable() {
  if [[ ${SNAPBUS_REQUIRE_NODE:-} == 1 ]]; then
    echo "setup: error: $1 (SNAPBUS_REQUIRE_NODE=1)" >&2
    exit 1
  fi
  echo "setup: warning: $1; the tests that run AWS's Node.js runtime client will skip" >&2
}
if [[ -f $node_ric/node_modules/aws-lambda-ric/rapid-client.node &&
      $node_ric/node_modules/.package-lock.json -nt $node_ric/package-lock.json ]]; then
  echo "setup: AWS's Node.js runtime client is installed ($node_ric)"
elif ! command -v npm >/dev/null || ! node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) ||
     ((node_major < 20)); then
  node_ric_unavailable "Node.js 20 or newer with npm is not on PATH"
else
  echo "setup: installing AWS's Node.js runtime client from npm into $node_ric (it compiles its addon: about 1.5 min)"
  node_ric_log=build/node-ric-install.log
  if npm ci --prefix "$node_ric" --no-audit --no-fund >"$node_ric_log" 2>&1 &&
     [[ -f $node_ric/node_modules/aws-lambda-ric/rapid-client.node ]]; then
    echo "setup: AWS's Node.js runtime client installed (npm's log: $node_ric_log)"
    if grep -q EBADENGINE "$node_ric_log"; then
      echo "setup: note: it declares Node.js 22 or newer; this is Node.js $(node --version), which the tests run it on"
    fi
  else
    tail -n 20 "$node_ric_log" >&2
    node_ric_unavailable "installing AWS's Node.js runtime client failed (the log's end is above; all of it: $node_ric_log)"
  fi
fi

if ((run_demo)); then
  echo "setup: running the demo (examples/demo.sh)"
  exec examples/demo.sh
fi
