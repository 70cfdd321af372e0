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

all=(generation_check wake_latency readiness)
[[ -x build/release/benchmarks/proxy_bench ]] && all+=(proxy)
[[ -x build/release/benchmarks/emulator_bench ]] && all+=(emulator)
selected=("${@:-${all[@]}}")
for name in "${selected[@]}"; do
  binary=build/release/benchmarks/${name}_bench
  echo "== $name ($binary)"
  "$binary" --benchmark_out="$results/$name.json" --benchmark_out_format=json
done
echo "== python"
PYTHONPATH=build/release/bindings/python SNAPBUS_CLI=build/release/cli/snapbus \
  /usr/bin/python3 benchmarks/python/bench_generation.py --output "$results/python.json"
/usr/bin/python3 benchmarks/summarize.py "$results" | tee "$results/summary.md"
