#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a working snapbus: installs every Debian package the
# project needs, configures and builds the default preset and the Lambda layer, installs AWS's Node.js
# runtime client from npm for the proxy's tests, then runs the demo (examples/demo.sh).
#
#   ./setup.sh              # install, build, run the demo
#   ./setup.sh --no-demo    # install and build only (CI uses this before the tests)
#   ./setup.sh --arm64      # also the arm64 (Graviton) layer, cross-compiled, and what checks it under
#                           # qemu-user (adds Debian's arm64 architecture; combines with --no-demo)
#
# Idempotent: packages already present are not fetched again, and the build is incremental.
set -euo pipefail
cd "$(dirname "$0")"

run_demo=1
arm64=0
for arg in "$@"; do
  case "$arg" in
    --no-demo) run_demo=0 ;;
    --arm64) arm64=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  build-essential cmake ninja-build clang libclang-rt-14-dev lld pkg-config
  # C++ libraries: Boost 1.81 (Boost.JSON needs 1.75+; Debian's default is 1.74)
  libboost1.81-dev libboost-json1.81-dev
  capnproto libcapnp-dev libfmt-dev libcli11-dev zlib1g-dev libbrotli-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # Python: Debian's interpreter and its packages, never PyPI
  python3 python3-dev python3-cffi python3-pytest python3-setuptools python3-pip python3-wheel
  python3-fastapi python3-uvicorn python3-flask python3-httpx python3-requests python3-gunicorn
  python3-psycopg2 python3-sqlalchemy
  # a venv: an interpreter without Debian's dist-packages, as Lambda's Python has no cffi (tests/python)
  python3-venv
  # AWS's own SDK, a real client of the emulator's Invoke API (tests/python/test_emulator_invoke_api.py)
  python3-boto3
  # tools the tests and demo use; PostgreSQL for the scenario tests (tests/e2e), which start their own server;
  # nginx as the reverse-proxy baseline of benchmarks/adapter_bench (started by the benchmark, never as a service);
  # unzip for the layer check (packaging/), which unpacks the layer as Lambda does
  procps curl postgresql nginx-light unzip
  # the format check and static analysis CI runs (.ci/check-format, .ci/run-clang-tidy)
  clang-format clang-tidy
)

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
# Installs those of the named Debian packages that are missing.
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "setup: all $# Debian packages already installed"
  fi
}
install_packages "${packages[@]}"

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

# The arm64 layer (packaging/README.md, "arm64"): Debian's cross compiler and the libraries of its
# arm64 architecture, installed beside the host's (multiarch); qemu-user to run what it builds. The
# checks (packaging_layer_arm64, packaging_wheel_arm64) need an arm64 interpreter, which the preset
# builds, with Debian's arm64 cffi backend beside it (extracted from its package: it cannot be
# installed beside the host's Python), and binfmt_misc to hand arm64 executables to qemu-aarch64.
if ((arm64)); then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup: adding Debian's arm64 architecture (dpkg --add-architecture arm64)"
    "${sudo_cmd[@]}" dpkg --add-architecture arm64
  fi
  install_packages g++-aarch64-linux-gnu qemu-user libboost1.81-dev:arm64 libboost-json1.81-dev:arm64 \
    libcapnp-dev:arm64 libfmt-dev:arm64 zlib1g-dev:arm64 libbrotli-dev:arm64 libpython3.11-dev:arm64
  echo "setup: building the arm64 Lambda layer and wheel (preset 'layer-arm64', cross-compiled)"
  cmake --preset layer-arm64
  cmake --build --preset layer-arm64 -j "$(nproc)"
  check_python=build/layer-arm64/packaging/check-python
  if ! compgen -G "$check_python/_cffi_backend.*.so" >/dev/null; then
    unpacked=$(mktemp -d)
    chmod 755 "$unpacked"  # apt-get download runs as _apt where it can
    (cd "$unpacked" && apt-get download -qq python3-cffi-backend:arm64 && dpkg-deb -x python3-cffi-backend_*.deb root)
    cp "$unpacked"/root/usr/lib/python3/dist-packages/_cffi_backend.*.so "$check_python"/
    rm -rf "$unpacked"
    echo "setup: Debian's arm64 cffi backend is in $check_python"
  fi
  binfmt=/proc/sys/fs/binfmt_misc
  if [[ ! -e $binfmt/qemu-aarch64 ]]; then
    [[ -e $binfmt/register ]] || "${sudo_cmd[@]}" mount -t binfmt_misc binfmt_misc "$binfmt" || true
    # An aarch64 ELF executable's header, and which of its bits to compare (qemu's own table).
    magic='\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
    mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
    if echo ":qemu-aarch64:M::$magic:$mask:/usr/bin/qemu-aarch64:F" | "${sudo_cmd[@]}" tee "$binfmt/register" >/dev/null; then
      echo "setup: arm64 executables now run under qemu-aarch64 (binfmt_misc)"
    else
      echo "setup: warning: cannot register qemu-aarch64 with binfmt_misc; packaging_*_arm64 will skip" >&2
    fi
  fi
  echo "setup: arm64 layer: build/layer-arm64/packaging/snapbus-layer-arm64.zip"
fi

if ((run_demo)); then
  echo "setup: running the demo (examples/demo.sh)"
  exec examples/demo.sh
fi
