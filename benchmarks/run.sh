#!/usr/bin/env bash
# Builds the release preset and runs every benchmark, writing Google Benchmark JSON to
# benchmarks/results/<name>.json and a ratio summary (snapbus against its same-run baseline) to
# benchmarks/results/summary.md. Run on a quiet machine: other load shows up as noise.
#
#   benchmarks/run.sh                 # all
#   benchmarks/run.sh generation_check wake_latency   # some
set -euo pipefail
cd "$(dirname "$0")/.."
results=benchmarks/results
mkdir -p "$results"

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

all=(generation_check wake_latency readiness event_decode)
[[ -x build/release/benchmarks/proxy_bench ]] && all+=(proxy)
[[ -x build/release/benchmarks/emulator_bench ]] && all+=(emulator)
[[ -x build/release/benchmarks/adapter_bench ]] && all+=(adapter)
# The adapter's instructions per invocation against nginx's (valgrind's callgrind; needs nginx too), and its
# system calls per invocation when strace is installed.
[[ -x build/release/benchmarks/adapter_bench && -x /usr/sbin/nginx ]] && command -v valgrind >/dev/null && all+=(instructions)
# The same processes' CPU time, user and kernel, unpinned and on one core.
[[ -x build/release/benchmarks/adapter_bench && -x /usr/sbin/nginx ]] && all+=(cpu_time)
selected=("${@:-${all[@]}}")
if [[ " ${selected[*]} " == *" adapter "* ]]; then
  # The adapter's footprint also reports `snapbus` built without the emulator (what a layer needs).
  cmake -S . -B build/release-no-emulator -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSNAPBUS_WITH_EMULATOR=OFF \
    -DSNAPBUS_BUILD_TESTS=OFF -DSNAPBUS_BUILD_BENCHMARKS=OFF -DSNAPBUS_BUILD_PYTHON=OFF >/dev/null
  cmake --build build/release-no-emulator -j "$(nproc)" --target snapbus
  export SNAPBUS_BENCH_NO_EMULATOR_BINARY=build/release-no-emulator/cli/snapbus
fi
if [[ " ${selected[*]} " =~ " "(adapter|instructions|cpu_time)" " ]]; then
  # The adapter Lambda runs is the layer's (setup.sh configures that preset): its latencies, its
  # instructions and its RSS are the ones judged.
  if [[ -f build/layer/build.ninja ]]; then
    # The whole preset, not only the binary: the layer's zip must stay the binary's (packaging_layer checks).
    cmake --build --preset layer
    export SNAPBUS_BENCH_LAYER_BINARY=build/layer/cli/snapbus
  else
    echo "benchmarks/run.sh: no build/layer (cmake --preset layer): the adapter measured is the release build's" >&2
  fi
fi
# Each results file records the commit it was measured at (a regression is read across commits), and
# the load average when it started: on a busy machine the figures are mostly its noise.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Results of an earlier run not yet committed do not make the code modified.
[[ -z $(git status --porcelain --untracked-files=no -- . ':!benchmarks/results' 2>/dev/null) ]] || commit+="-modified"
read -r load_1min _ < /proc/loadavg
if awk -v load="$load_1min" -v cpus="$(nproc)" 'BEGIN { exit !(load / cpus > 0.3) }'; then
  echo "benchmarks/run.sh: warning: load average $load_1min on $(nproc) CPUs: the figures will be noisy" >&2
fi
for name in "${selected[@]}"; do
  if [[ $name == instructions ]]; then
    echo "== instructions (benchmarks/instructions.py)"
    /usr/bin/python3 benchmarks/instructions.py --commit "$commit" --output "$results/instructions.json"
    continue
  fi
  if [[ $name == cpu_time ]]; then
    echo "== cpu_time (benchmarks/cpu_time.py)"
    /usr/bin/python3 benchmarks/cpu_time.py --commit "$commit" --output "$results/cpu_time.json"
    /usr/bin/python3 benchmarks/cpu_time.py --one-core --commit "$commit" --output "$results/cpu_time_one_core.json"
    continue
  fi
  binary=build/release/benchmarks/${name}_bench
  echo "== $name ($binary)"
  "$binary" --benchmark_out="$results/$name.json" --benchmark_out_format=json --benchmark_context=commit="$commit"
done
echo "== python"
PYTHONPATH=build/release/bindings/python SNAPBUS_CLI=build/release/cli/snapbus \
  /usr/bin/python3 benchmarks/python/bench_generation.py --output "$results/python.json"
# Written whole or not at all: a summary that fails half-way leaves the last one in place.
/usr/bin/python3 benchmarks/summarize.py "$results" > "$results/summary.md.new"
mv "$results/summary.md.new" "$results/summary.md"
cat "$results/summary.md"
