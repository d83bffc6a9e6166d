#!/usr/bin/env bash
# Builds lstm and runs every test: once optimised, once under AddressSanitizer + UBSan; then the
# threaded driver's tests under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# -O1 with line tables only: the sanitizers' usual setting, and a third of -O2 -g's compile time.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DLSTM_SANITIZE=ON -DLSTM_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" -E install_and_find_package)

# The time loop's threads share buffers across a barrier per step (or none, split by batch
# rows): the naive-vs-fast grid, whose threaded cases take both splits, under ThreadSanitizer,
# shared out between $jobs processes.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DLSTM_TSAN=ON -DLSTM_BUILD_BENCH=OFF
cmake --build build-tsan -j"$jobs" --target naive_vs_fast_test
shards=()
for ((shard = 0; shard < jobs; shard++)); do
  TSAN_OPTIONS=halt_on_error=1 GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$shard \
    build-tsan/tests/naive_vs_fast_test --gtest_brief=1 &
  shards+=($!)
done
for pid in "${shards[@]}"; do wait "$pid"; done

# Every parser under libFuzzer (clang, ASan+UBSan) for a few seconds each on its corpus.
bash scripts/fuzz_smoke.sh 5
