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

all=(generation_check wake_latency)
[[ -x build/release/benchmarks/emulator_bench ]] && all+=(emulator)
selected=("${@:-${all[@]}}")
for name in "${selected[@]}"; do
  binary=build/release/benchmarks/${name}_bench
  echo "== $name ($binary)"
  "$binary" --benchmark_out="$results/$name.json" --benchmark_out_format=json
done
if [[ -f benchmarks/python/generation_bench.py ]]; then
  echo "== python"
  PYTHONPATH=build/release/python /usr/bin/python3 benchmarks/python/generation_bench.py --out "$results/python.json"
fi
/usr/bin/python3 benchmarks/summarize.py "$results" | tee "$results/summary.md"
