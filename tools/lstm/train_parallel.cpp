// `lstm train` under mpiexec: starting MPI, threads per rank, shards, failing together.
#include "train_parallel.hpp"

#include "progress.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#ifdef LSTM_HAVE_MPI
#include "lstm/distributed_mpi.hpp"
#endif

namespace lstm_cli {
namespace {

// What a rank says when mpiexec ends the job (another rank died, or the job was cancelled):
// prepared beforehand, since a signal handler may only write().
char terminated_line[160];
size_t terminated_length = 0;

extern "C" void on_terminated(int) {
  if (write(STDERR_FILENO, terminated_line, terminated_length) < 0) {
  }
  _exit(143);
}

}  // namespace

Parallel::~Parallel() {
  if (world) std::signal(SIGTERM, SIG_DFL);
}

void Parallel::check_same(const std::string& what, const std::string& value) {
  if (!world) return;
  const lstm::distributed::Bytes mine(value.begin(), value.end());
  const auto all = lstm::distributed::agree(*world, "", mine);
  const std::string first(all[0].begin(), all[0].end());
  for (size_t r = 1; r < all.size(); ++r) {
    const std::string theirs(all[r].begin(), all[r].end());
    if (theirs != first)
      throw lstm::distributed::RankFailure("rank " + std::to_string(r) + ": " + what + " is " +
                                               theirs + " but rank 0's is " + first +
                                               "; every rank must read the same data",
                                           rank() == static_cast<int>(r));
  }
}

std::string Parallel::summary(int64_t shards, bool allreduce) const {
  if (size() == 1 && shards == 1) return "";
  return "; " + std::to_string(size()) + " rank(s), " + std::to_string(shards) +
         " shard(s) per batch, gradients summed " +
         (allreduce && size() > 1 ? "by MPI_Allreduce (not reproducible)" : "in shard order");
}

Parallel start_parallel(double timeout_seconds) {
  Parallel parallel;
  parallel.timeout_seconds = timeout_seconds;
  if (!lstm::distributed::launched_by_mpi()) return parallel;
#ifdef LSTM_HAVE_MPI
  parallel.world = lstm::distributed::mpi_world(timeout_seconds);
  also_interrupt_on(SIGUSR1);  // mpiexec forwards it; its own SIGINT kills the job
  terminated_length = static_cast<size_t>(std::snprintf(
      terminated_line, sizeof terminated_line,
      "lstm: rank %d: terminated by mpiexec (another rank failed, or the job was cancelled)\n",
      parallel.world->rank()));
  std::signal(SIGTERM, on_terminated);
#else
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size == nullptr) size = std::getenv("PMI_SIZE");
  if (size != nullptr && std::string(size) != "1")
    throw lstm::Error(
        "started by mpiexec, but this lstm was built without MPI (install "
        "libopenmpi-dev and build with -DLSTM_MPI=ON)");
#endif
  return parallel;
}

void default_threads_per_rank(const Parallel& parallel, GlobalOptions& global) {
  if (!parallel.world || global.threads != 0) return;
  if (const char* env = std::getenv("LSTM_NUM_THREADS"); env != nullptr && *env != '\0') return;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  global.threads = std::max(1, cores / std::max(1, parallel.world->local_size()));
}

int64_t resolve_shards(const Parallel& parallel, int64_t requested, int64_t batch) {
  int64_t shards = requested;
  if (shards == 0) {
    shards = 1;
    if (parallel.size() > 1)
      for (int64_t candidate = std::min<int64_t>(16, batch); candidate >= 1; --candidate)
        if (batch % candidate == 0) {
          shards = candidate;
          break;
        }
  }
  if (shards < parallel.size() || shards > batch)
    throw lstm::distributed::RankFailure(
        "--shards " + std::to_string(shards) + " must be at least the number of ranks (" +
            std::to_string(parallel.size()) + ") and at most --batch (" + std::to_string(batch) +
            ")" + (requested == 0 ? " (no --shards given: give one)" : ""),
        parallel.root());
  return shards;
}

}  // namespace lstm_cli
