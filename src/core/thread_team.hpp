// A persistent team of threads that run one function together and can meet at a barrier.
//
// The recurrent loop needs a rendezvous every time step (h_t must be complete before step
// t+1's product), so its threads stay inside one parallel region for the whole loop and meet
// at a spinning barrier instead of being woken per step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lstm {

// A barrier for `count` threads that spin while they wait; reusable at once.
class SpinBarrier {
 public:
  void wait(int count);

 private:
  std::atomic<int> arrived_{0};
  std::atomic<uint64_t> phase_{0};
};

class ThreadTeam {
 public:
  explicit ThreadTeam(int threads);
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs work(index, count) on `count` threads (the caller is index 0) and waits for all.
  // Callers on different threads take turns; work must not call run() itself.
  void run(int count, const std::function<void(int, int)>& work);
  // Called by all `count` threads of the current run: waits until every one has arrived.
  void barrier(int count) { barrier_.wait(count); }

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one multi-threaded run at a time
  std::mutex mutex_;      // guards the dispatch fields below
  std::condition_variable wake_;
  const std::function<void(int, int)>* work_ = nullptr;
  int count_ = 0;
  std::atomic<uint64_t> generation_{0};  // bumped per run(), under mutex_
  bool stopping_ = false;
  std::atomic<int> running_{0};
  SpinBarrier barrier_;
};

// The team the library uses, sized by set_num_threads() (default: all cores).
ThreadTeam& thread_team();

// Splits [0, total) into `parts` ranges aligned to `align`; returns part `index`'s [begin, end).
std::pair<int64_t, int64_t> split_range(int64_t total, int parts, int index, int64_t align = 1);

}  // namespace lstm
