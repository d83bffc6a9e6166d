// Measures OpenBLAS sgemm GFLOP/s on large square matrices: the machine's practical FP32 peak for bench/.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Options {
  int threads = 1, iters = 5, warmup = 1;
  std::vector<int> sizes{2048, 4096};
  bool json = false;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + arg);
    const std::string value = argv[++i];
    if (arg == "--threads") o.threads = std::stoi(value);
    else if (arg == "--iters") o.iters = std::stoi(value);
    else if (arg == "--warmup") o.warmup = std::stoi(value);
    else if (arg == "--sizes") {
      o.sizes.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) o.sizes.push_back(std::stoi(item));
    } else throw std::runtime_error("unknown option " + arg);
  }
  if (o.threads < 1 || o.iters < 1 || o.warmup < 0 || o.sizes.empty() ||
      std::any_of(o.sizes.begin(), o.sizes.end(), [](int n) { return n < 1; }))
    throw std::runtime_error("--threads, --iters and --sizes must be positive");
  return o;
}

struct Result {
  int n;
  double ms_median, ms_min, gflops;
};

// C = A·B for n×n matrices, timed `iters` times after `warmup` untimed calls.
Result time_sgemm(int n, const Options& o) {
  const size_t count = static_cast<size_t>(n) * static_cast<size_t>(n);
  std::vector<float> a(count), b(count), c(count);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (size_t i = 0; i < count; ++i) {
    a[i] = dist(rng);
    b[i] = dist(rng);
  }
  std::vector<double> times_ms;
  for (int it = 0; it < o.warmup + o.iters; ++it) {
    const auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                c.data(), n);
    const auto stop = std::chrono::steady_clock::now();
    if (it >= o.warmup) times_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(times_ms.begin(), times_ms.end());
  const size_t k = times_ms.size();
  const double med = k % 2 ? times_ms[k / 2] : 0.5 * (times_ms[k / 2 - 1] + times_ms[k / 2]);
  const double flops = 2.0 * n * static_cast<double>(n) * n;
  return {n, med, times_ms.front(), flops / (med * 1e6)};
}

int run(const Options& o) {
  openblas_set_num_threads(o.threads);
  std::vector<Result> results;
  double peak = 0.0;
  for (int n : o.sizes) {
    results.push_back(time_sgemm(n, o));
    peak = std::max(peak, results.back().gflops);
  }
  if (o.json) {
    std::printf("{\"peer\": \"openblas_sgemm\", \"threads\": %d, \"iters\": %d, \"gflops_peak\": %.3f, \"sizes\": [",
                o.threads, o.iters, peak);
    for (size_t i = 0; i < results.size(); ++i)
      std::printf("%s{\"n\": %d, \"ms_median\": %.4f, \"ms_min\": %.4f, \"gflops\": %.3f}", i ? ", " : "",
                  results[i].n, results[i].ms_median, results[i].ms_min, results[i].gflops);
    std::printf("]}\n");
  } else {
    for (const Result& r : results)
      std::printf("sgemm n=%d threads=%d: median %.3f ms, min %.3f ms, %.1f GFLOP/s\n", r.n, o.threads,
                  r.ms_median, r.ms_min, r.gflops);
    std::printf("peak %.1f GFLOP/s\n", peak);
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sgemm_peak: %s\n", e.what());
  }
  return 1;
}
