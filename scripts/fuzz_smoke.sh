#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each one briefly on its committed
# corpus and dictionary: a crash, leak or hang in any parser fails the stage. The corpora are
# copied first, so the run adds nothing to the repository.
#   bash scripts/fuzz_smoke.sh [SECONDS per target, default 5] [all]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Release -DLSTM_FUZZ=ON \
  -DLSTM_BUILD_TESTS=OFF -DLSTM_BUILD_BENCH=OFF >/dev/null
# The file readers by default; `all` adds the metadata and checkpoint loaders, whose targets
# compile the whole library instrumented (several minutes more).
targets="csv text safetensors npy onnx"
[ "${2:-}" = all ] && targets="$targets metadata checkpoint"
cmake --build build-fuzz -j"$(nproc)" --target $(for t in $targets; do echo "fuzz_$t"; done)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in $targets; do
  cp -r "fuzz/corpus/$t" "$work/$t"
  echo "fuzz_$t: ${seconds}s on $(ls "fuzz/corpus/$t" | wc -l) seed(s)"
  build-fuzz/fuzz/"fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    $([ -f "fuzz/$t.dict" ] && echo "-dict=fuzz/$t.dict") -print_final_stats=1 "$work/$t" 2>"$work/$t.log" ||
    { tail -40 "$work/$t.log"; exit 1; }
  grep -E "stat::number_of_executed_units|cov:" "$work/$t.log" | tail -2
done
