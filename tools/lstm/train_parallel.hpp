// `lstm train` under mpiexec: the communicator, this rank's threads, the shard count, and setup
// steps that fail together (one rank's error becomes every rank's, printed once).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "commands.hpp"
#include "lstm/distributed.hpp"

namespace lstm_cli {

struct Parallel {
  Parallel() = default;
  Parallel(Parallel&&) = default;
  // Past this point a rank may be ended by mpiexec as the others exit: silently.
  ~Parallel();
  std::unique_ptr<lstm::distributed::Communicator> world;  // null: this process alone
  double timeout_seconds = 300.0;
  int rank() const { return world ? world->rank() : 0; }
  int size() const { return world ? world->size() : 1; }
  bool root() const { return rank() == 0; }
  lstm::distributed::Communicator* communicator() const { return world.get(); }

  // Runs `body`; under MPI, if it throws on any rank, every rank throws RankFailure naming it.
  template <class Body>
  void together(Body&& body) {
    if (!world) return body();
    std::string failure;
    try {
      body();
    } catch (const lstm::distributed::RankFailure&) {
      throw;
    } catch (const std::exception& error) {
      failure = error.what();
    }
    lstm::distributed::agree(*world, failure);
  }
  // Fails on every rank unless every rank computed the same `value` of `what` (e.g. a data
  // file's checksum): "rank R: <what> is <value> but rank 0's is <value 0>".
  void check_same(const std::string& what, const std::string& value);
  // "" for one process and one shard; else "; N rank(s) x ..., S shards per batch (...)".
  std::string summary(int64_t shards, bool allreduce) const;
};

// Starts MPI when the process was launched by mpiexec (else returns a single process). Throws if
// launched by mpiexec with several ranks but built without MPI.
Parallel start_parallel(double timeout_seconds);
// Under MPI with no --threads and no LSTM_NUM_THREADS: the node's cores divided by its ranks.
void default_threads_per_rank(const Parallel& parallel, GlobalOptions& global);
// --shards: `requested` if > 0; else 1 for a single process, and under MPI the largest divisor of
// the batch not above 16. Throws (on every rank alike) unless ranks <= shards <= batch.
int64_t resolve_shards(const Parallel& parallel, int64_t requested, int64_t batch);

}  // namespace lstm_cli
