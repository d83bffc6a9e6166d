#!/usr/bin/env bash
# Builds lstm and runs every test: once optimised, once under AddressSanitizer + UBSan; then the
# threaded driver's tests under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
# The library runs OpenBLAS on one thread (its own threads parallelise), but OpenBLAS starts its
# workers when it is loaded, and they spin for a while in every process: under ASan that doubled
# the CPU time of a short test, taken from the test beside it.
export OPENBLAS_NUM_THREADS=1

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

# -O1 with line tables only: the sanitizers' usual setting, and a third of -O2 -g's compile time.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DLSTM_SANITIZE=ON -DLSTM_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" -E install_and_find_package)

# Under ThreadSanitizer: the time loop's threads, which share buffers across a barrier per step
# (or none, split by batch rows), in the naive-vs-fast grid, whose threaded cases take both
# splits, shared out between $jobs processes; the classical forecasts spread over threads; and
# user threads sharing a network, whose team threads add up their phase times.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DLSTM_TSAN=ON -DLSTM_BUILD_BENCH=OFF
cmake --build build-tsan -j"$jobs" --target naive_vs_fast_test model_choice_test concurrency_test
export TSAN_OPTIONS=halt_on_error=1
shards=()
for ((shard = 0; shard < jobs; shard++)); do
  GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$shard build-tsan/tests/naive_vs_fast_test --gtest_brief=1 &
  shards+=($!)
done
build-tsan/tests/model_choice_test --gtest_brief=1 --gtest_filter='ModelChoice.Threads*'
build-tsan/tests/concurrency_test --gtest_brief=1
for pid in "${shards[@]}"; do wait "$pid"; done
unset TSAN_OPTIONS

# Every parser under libFuzzer (clang, ASan+UBSan) for a few seconds each on its corpus.
bash scripts/fuzz_smoke.sh 5
