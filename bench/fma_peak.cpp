// Measures the CPU's arithmetic peaks (fp32 FMA, bf16 dot, AMX, int8 VNNI) and read bandwidth per working-set size.
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "peak_kernels.hpp"

namespace {

struct Options {
  int threads = 1, repeats = 3;
  double ms = 100;  // target duration of one timed run
  std::vector<std::size_t> sizes{256u << 10, 1u << 20, 2u << 20, 4u << 20, 8u << 20, 16u << 20, 64u << 20};
  bool json = false;
  // --round-trip: only core_round_trip_ns (run_suite.py takes it around each run)
  bool round_trip_only = false;
};

// "256K", "1M", "1MiB", "4096" → bytes.
std::size_t parse_size(const std::string& text) {
  std::size_t end = 0;
  const unsigned long long number = std::stoull(text, &end);
  const std::string unit = text.substr(end);
  if (unit.empty()) return number;
  if (unit == "K" || unit == "KiB") return number << 10;
  if (unit == "M" || unit == "MiB") return number << 20;
  if (unit == "G" || unit == "GiB") return number << 30;
  throw std::runtime_error("--sizes: unknown unit in '" + text + "' (use K, M or G)");
}

std::string size_label(std::size_t bytes) {
  if (bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  if (bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json" || arg == "--round-trip") {
      (arg == "--json" ? o.json : o.round_trip_only) = true;
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + arg);
    const std::string value = argv[++i];
    if (arg == "--threads") o.threads = std::stoi(value);
    else if (arg == "--repeats") o.repeats = std::stoi(value);
    else if (arg == "--ms") o.ms = std::stod(value);
    else if (arg == "--sizes") {
      o.sizes.clear();
      std::stringstream list(value);
      for (std::string item; value != "none" && std::getline(list, item, ',');) o.sizes.push_back(parse_size(item));
    } else throw std::runtime_error("unknown option " + arg);
  }
  if (o.threads < 1 || o.repeats < 1 || !(o.ms > 0))
    throw std::runtime_error("--threads, --repeats and --ms must be positive");
  if (o.round_trip_only && o.threads < 2)
    throw std::runtime_error("--round-trip needs --threads 2 or more");
  return o;
}

// One measurement: `run(thread, reps)` does `reps` iterations of `ops_per_rep` operations each.
using Kernel = std::function<double(int thread, std::int64_t reps)>;

volatile double g_sink = 0;  // every kernel result lands here, so no work is dead

// CPU time of the calling thread: time spent descheduled on a shared machine does not count.
double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

double seconds_of(const Kernel& run, int thread, std::int64_t reps) {
  const double start = thread_seconds();
  g_sink = g_sink + run(thread, reps);
  return thread_seconds() - start;
}

// Repetitions for about `ms` milliseconds on one thread (grown ×4 until a run takes ≥ ms/8).
std::int64_t calibrate(const Kernel& run, double ms) {
  const double target = ms * 1e-3;
  for (std::int64_t reps = 1;; reps *= 4) {
    const double s = seconds_of(run, 0, reps);
    if (s >= target / 8 || reps > (std::int64_t{1} << 40))
      return std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(reps) * target / s));
  }
}

// The CPUs this process may run on (empty when the OS does not say).
std::vector<int> allowed_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  return cpus;
}

void pin_to_cpu(std::thread& t, int index) {
  const std::vector<int> cpus = allowed_cpus();
  if (cpus.empty()) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpus[static_cast<std::size_t>(index) % cpus.size()], &one);
  pthread_setaffinity_np(t.native_handle(), sizeof one, &one);  // best effort: unpinned still measures
}

// Per-thread CPU time would count two threads sharing one CPU twice: at most one thread per CPU.
void check_options(const Options& o) {
  for (std::size_t s : o.sizes)
    if (s < 4096 || s % 4096) throw std::runtime_error("--sizes must be multiples of 4 KiB");
  const std::size_t cpus = allowed_cpus().size();
  if (cpus > 0 && static_cast<std::size_t>(o.threads) > cpus)
    throw std::runtime_error("--threads " + std::to_string(o.threads) + " exceeds the " + std::to_string(cpus) +
                             " CPUs this process may use");
}

// Runs `run` on every thread at once, `repeats` times; returns the best sum of per-thread rates
// (operations per second).
double measure(const Kernel& run, double ops_per_rep, const Options& o) {
  const std::int64_t reps = calibrate(run, o.ms);
  double best = 0;
  for (int r = 0; r < o.repeats; ++r) {
    std::vector<double> seconds(static_cast<std::size_t>(o.threads));
    std::barrier start(o.threads);
    std::vector<std::thread> team;
    for (int t = 0; t < o.threads; ++t) {
      team.emplace_back([&, t] {
        start.arrive_and_wait();
        seconds[static_cast<std::size_t>(t)] = seconds_of(run, t, reps);
      });
      pin_to_cpu(team.back(), t);
    }
    for (auto& t : team) t.join();
    double rate = 0;
    for (double s : seconds) rate += ops_per_rep * static_cast<double>(reps) / s;
    best = std::max(best, rate);
  }
  return best;
}

struct Peak {
  const char* key;  // JSON name
  const char* unit;
  bool present;
  double ops_per_rep;
  double (*chains)(std::int64_t);
  std::optional<double> giga;  // G(FL)OP/s summed over threads; empty when the CPU lacks it
};

struct Buffer {
  void operator()(void* p) const { std::free(p); }
};

std::string json_number(const std::optional<double>& v) {
  if (!v) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", *v);
  return text;
}

using Bandwidth = std::vector<std::pair<std::size_t, double>>;  // (bytes per thread, GB/s summed over threads)

// Each thread re-reads its own buffer of every size in o.sizes.
Bandwidth measure_bandwidth(const peak::CpuFeatures& cpu, const Options& o) {
  Bandwidth bandwidth;
  for (std::size_t bytes : o.sizes) {
    std::vector<std::unique_ptr<void, Buffer>> buffers;
    for (int t = 0; t < o.threads; ++t) {
      void* p = std::aligned_alloc(64, bytes);
      if (!p) throw std::runtime_error("cannot allocate " + size_label(bytes));
      for (std::size_t i = 0; i < bytes; ++i) static_cast<unsigned char*>(p)[i] = static_cast<unsigned char>(i * 7);
      buffers.emplace_back(p);
    }
    const Kernel pass = [&](int t, std::int64_t reps) {
      const void* data = buffers[static_cast<std::size_t>(t)].get();
      std::uint64_t sum = 0;
      for (std::int64_t r = 0; r < reps; ++r) sum += peak::read_pass(data, bytes, cpu);
      return static_cast<double>(sum & 0xff);
    };
    bandwidth.emplace_back(bytes, measure(pass, static_cast<double>(bytes), o) * 1e-9);
  }
  return bandwidth;
}

void spin_until(const std::atomic<std::int64_t>& turn, std::int64_t value) {
  while (turn.load(std::memory_order_acquire) != value) {
  }
}

constexpr const char* kRoundTripLabel = "a cache line from the first CPU to the second and back";

// The best of `repeats` times for one round trip of a cache line between the process's first two
// CPUs: two threads pinned there take turns to advance a counter. On a virtual machine the host
// places those CPUs, near (sharing an L3) or far apart, and may move them between runs; every
// step of a loop split over two threads meets at a barrier and exchanges h across that distance.
// Empty with fewer than two threads or CPUs.
std::optional<double> core_round_trip_ns(const Options& o) {
  if (o.threads < 2 || allowed_cpus().size() < 2) return {};
  constexpr std::int64_t kTrips = 100000;
  double best = 0;
  for (int r = 0; r < o.repeats; ++r) {
    alignas(64) std::atomic<std::int64_t> turn{-1};  // odd: the answering thread's turn
    double seconds = 0;
    std::thread asking([&] {
      spin_until(turn, 0);  // until both are pinned
      const auto start = std::chrono::steady_clock::now();
      for (std::int64_t i = 0; i < kTrips; ++i) {
        turn.store(2 * i + 1, std::memory_order_release);
        spin_until(turn, 2 * i + 2);
      }
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    });
    std::thread answering([&] {
      for (std::int64_t i = 0; i < kTrips; ++i) {
        spin_until(turn, 2 * i + 1);
        turn.store(2 * i + 2, std::memory_order_release);
      }
    });
    pin_to_cpu(asking, 0);
    pin_to_cpu(answering, 1);
    turn.store(0, std::memory_order_release);
    asking.join();
    answering.join();
    const double ns = seconds * 1e9 / kTrips;
    best = r == 0 ? ns : std::min(best, ns);
  }
  return best;
}

struct Report {
  std::string cpu;
  std::optional<bool> amx_permission;  // empty: no AMX on this CPU
  double ghz = 0;
  std::vector<Peak> peaks;
  std::optional<double> fp32_peak, fma512_flops_per_cycle;
  Bandwidth bandwidth;
  std::optional<double> round_trip_ns;
};

void print_json(const Report& r, const Options& o) {
  std::printf("{\"peer\": \"fma_peak\", \"cpu\": \"%s\", \"threads\": %d, \"amx_permission\": %s, "
              "\"ghz_estimate\": %.3f",
              r.cpu.c_str(), o.threads, r.amx_permission ? (*r.amx_permission ? "true" : "false") : "null", r.ghz);
  for (const Peak& p : r.peaks) std::printf(", \"%s\": %s", p.key, json_number(p.giga).c_str());
  std::printf(", \"gflops_peak\": %s, \"fma512_flops_per_cycle_per_core\": %s, \"bandwidth_gbs\": {",
              json_number(r.fp32_peak).c_str(), json_number(r.fma512_flops_per_cycle).c_str());
  for (std::size_t i = 0; i < r.bandwidth.size(); ++i)
    std::printf("%s\"%s\": %.3f", i ? ", " : "", size_label(r.bandwidth[i].first).c_str(), r.bandwidth[i].second);
  std::printf("}, \"core_round_trip_ns\": %s}\n", json_number(r.round_trip_ns).c_str());
}

void print_text(const Report& r, const Options& o) {
  std::printf("%s, %d thread(s), clock about %.2f GHz (dependent-add chain)\n", r.cpu.c_str(), o.threads, r.ghz);
  for (const Peak& p : r.peaks) {
    if (p.giga) std::printf("  %-16s %9.1f %s\n", p.key, *p.giga, p.unit);
    else
      std::printf("  %-16s       n/a (%s)\n", p.key,
                  p.chains == peak::amx_bf16_chains && r.amx_permission ? "the OS refused AMX" : "not on this CPU");
  }
  if (r.fma512_flops_per_cycle)
    std::printf("  fp32 512-bit FMA: %.1f flops per cycle per core\n", *r.fma512_flops_per_cycle);
  for (const auto& [bytes, gbs] : r.bandwidth)
    std::printf("  read %-8s per thread: %8.1f GB/s (all threads)\n", size_label(bytes).c_str(), gbs);
  if (r.round_trip_ns) std::printf("  %s: %.0f ns\n", kRoundTripLabel, *r.round_trip_ns);
}

int run(const Options& o) {
  check_options(o);
  if (o.round_trip_only) {
    const std::optional<double> ns = core_round_trip_ns(o);
    if (o.json)
      std::printf("{\"peer\": \"fma_peak\", \"core_round_trip_ns\": %s}\n",
                  json_number(ns).c_str());
    else
      std::printf("%s: %s ns\n", kRoundTripLabel, json_number(ns).c_str());
    return 0;
  }
  peak::CpuFeatures cpu = peak::detect_cpu();
  Report r;
  r.cpu = cpu.brand;
  if (cpu.amx_bf16) {
    r.amx_permission = peak::request_amx_permission();
    cpu.amx_bf16 = *r.amx_permission;
  }
  r.peaks = {
      {"gflops_fma256", "GFLOP/s", cpu.fma256, peak::fma256_ops_per_rep, peak::fma256_chains, {}},
      {"gflops_fma512", "GFLOP/s", cpu.fma512, peak::fma512_ops_per_rep, peak::fma512_chains, {}},
      {"gflops_bf16_dot", "GFLOP/s", cpu.bf16_dot, peak::bf16_dot_ops_per_rep, peak::bf16_dot_chains, {}},
      {"gflops_amx_bf16", "GFLOP/s", cpu.amx_bf16, peak::amx_bf16_ops_per_rep, peak::amx_bf16_chains, {}},
      {"gops_vnni", "GOP/s", cpu.vnni512, peak::vnni_ops_per_rep, peak::vnni_chains, {}},
  };
  for (Peak& p : r.peaks) {
    if (!p.present) continue;
    const auto chains = p.chains;
    p.giga = measure([chains](int, std::int64_t reps) { return chains(reps); }, p.ops_per_rep, o) * 1e-9;
  }
  const Kernel clock = [](int, std::int64_t reps) { return peak::clock_chain(reps); };
  r.ghz = measure(clock, peak::clock_cycles_per_rep, o) * 1e-9 / o.threads;
  r.bandwidth = measure_bandwidth(cpu, o);
  r.round_trip_ns = core_round_trip_ns(o);

  const Peak &fma256 = r.peaks[0], &fma512 = r.peaks[1];
  if (fma256.giga || fma512.giga) r.fp32_peak = std::max(fma256.giga.value_or(0.0), fma512.giga.value_or(0.0));
  if (fma512.giga) r.fma512_flops_per_cycle = *fma512.giga / o.threads / r.ghz;
  if (o.json) print_json(r, o);
  else print_text(r, o);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fma_peak: %s\n", e.what());
  }
  return 1;
}
