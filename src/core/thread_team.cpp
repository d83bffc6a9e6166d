// ThreadTeam: dispatch through an atomic generation (spun on for a while, then waited for on a
// condition variable), barrier by spinning on an atomic phase.
#include "core/thread_team.hpp"

#include <chrono>
#include <memory>

#include "core/blas.hpp"
#include "lstm/threads.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace lstm {

namespace {
constexpr std::chrono::microseconds kIdleSpin{200};

// Waits until done() holds. A time step lasts microseconds, so spin first; past ~0.1 ms the
// machine is likely oversubscribed, and yielding lets the thread we wait for run.
template <typename Done>
void spin_until(Done done) {
  for (int spins = 0; !done(); ++spins) {
#if defined(__x86_64__)
    if (spins < 2000) {
      _mm_pause();
      continue;
    }
#endif
    std::this_thread::yield();
  }
}
}  // namespace

ThreadTeam::ThreadTeam(int threads) {
  for (int index = 1; index < threads; ++index) workers_.emplace_back([this, index] { worker_loop(index); });
}

ThreadTeam::~ThreadTeam() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    ++generation_;
  }
  wake_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadTeam::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Runs often follow each other closely (layers, directions, the phases of backward): spin
    // a while for the next one before sleeping, since waking a sleeping thread takes longer.
    const auto deadline = std::chrono::steady_clock::now() + kIdleSpin;
    for (int spins = 0; generation_.load(std::memory_order_acquire) == seen; ++spins) {
#if defined(__x86_64__)
      _mm_pause();
#endif
      if (spins % 64 == 0 && std::chrono::steady_clock::now() > deadline) break;
    }
    const std::function<void(int, int)>* work;
    int count;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
      seen = generation_;
      if (stopping_) return;
      work = work_;
      count = count_;
    }
    if (index < count) {
      (*work)(index, count);
      running_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

void ThreadTeam::run(int count, const std::function<void(int, int)>& work) {
  count = std::max(1, std::min(count, size()));
  if (count == 1) {
    work(0, 1);
    return;
  }
  std::lock_guard<std::mutex> turn(run_mutex_);
  running_.store(count - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    work_ = &work;
    count_ = count;
    ++generation_;
  }
  wake_.notify_all();
  work(0, count);
  spin_until([this] { return running_.load(std::memory_order_acquire) == 0; });
}

void SpinBarrier::wait(int count) {
  if (count <= 1) return;
  const uint64_t phase = phase_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == count - 1) {
    arrived_.store(0, std::memory_order_relaxed);
    phase_.store(phase + 1, std::memory_order_release);
    return;
  }
  spin_until([this, phase] { return phase_.load(std::memory_order_acquire) != phase; });
}

std::pair<int64_t, int64_t> split_range(int64_t total, int parts, int index, int64_t align) {
  const int64_t chunks = (total + align - 1) / align;
  const int64_t begin = chunks * index / parts * align;
  const int64_t end = chunks * (index + 1) / parts * align;
  return {std::min(begin, total), std::min(end, total)};
}

namespace {
std::mutex team_mutex;
std::unique_ptr<ThreadTeam> team;
int requested_threads = 0;

int resolve(int threads) {
  if (threads > 0) return threads;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? static_cast<int>(cores) : 1;
}
}  // namespace

ThreadTeam& thread_team() {
  std::lock_guard<std::mutex> lock(team_mutex);
  if (!team) {
    set_blas_threads(1);  // our team parallelises; OpenBLAS's own threads would compete with it
    team = std::make_unique<ThreadTeam>(resolve(requested_threads));
  }
  return *team;
}

void set_num_threads(int threads) {
  std::lock_guard<std::mutex> lock(team_mutex);
  requested_threads = threads;
  if (team && team->size() != resolve(threads)) team.reset();
}

int num_threads() {
  std::lock_guard<std::mutex> lock(team_mutex);
  return team ? team->size() : resolve(requested_threads);
}

}  // namespace lstm
