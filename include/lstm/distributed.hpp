// Data-parallel training across processes: a communicator hook (MPI is one implementation, in
// the separate lstm_mpi library; a single process needs none) and the deterministic combination
// of gradients cut into logical shards, so that the sum does not depend on the number of ranks.
//
// Shards: a batch of B samples is cut into S shards, shard s holding samples
// [⌊sB/S⌋, ⌊(s+1)B/S⌋). Ranks own contiguous blocks of shards: with N ranks, rank r owns shards
// [⌊rS/N⌋, ⌊(r+1)S/N⌋). Each shard's gradient is scaled by its share of the batch (n_s / B) and
// the shards are summed left to right, g = ((w₀g₀ + w₁g₁) + w₂g₂) + …, whoever computed them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lstm/error.hpp"

namespace lstm::distributed {

using Bytes = std::vector<unsigned char>;

// The operations the trainer needs. Every rank calls the same operations in the same order
// (they are collective). Implementations throw lstm::Error when the others cannot be reached.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks on this node (to divide its cores between them).
  virtual int local_size() const { return 1; }
  // Afterwards every rank's `bytes` equal root's (resized as needed).
  virtual void broadcast(Bytes& bytes, int root) = 0;
  // Every rank's `mine`, in rank order.
  virtual std::vector<Bytes> all_gather(const Bytes& mine) = 0;
  // Personal exchange: `send` holds the parts for ranks 0, 1, … one after another,
  // send_counts[q] floats for rank q; `receive` gets receive_counts[q] floats from each rank q,
  // in rank order.
  virtual void all_to_all(std::span<const float> send, std::span<const int64_t> send_counts,
                          std::span<float> receive, std::span<const int64_t> receive_counts) = 0;
  // Every rank's `mine` (counts[r] floats from rank r), concatenated in rank order into `all`.
  virtual void all_gather(std::span<const float> mine, std::span<const int64_t> counts,
                          std::span<float> all) = 0;
  // In-place sum over ranks in whatever order the implementation likes: NOT reproducible across
  // rank counts (MPI_Allreduce). Offered to measure what determinism costs.
  virtual void all_reduce_sum(std::span<float> values) = 0;
};

// One process alone: every operation is a copy.
Communicator& single_process();

// Thrown identically on every rank when one rank failed: the message names that rank and the
// cause. print_here() is true on one rank only (the failed rank; the lowest if several), so
// that a command line prints one line for the whole job.
class RankFailure : public Error {
 public:
  RankFailure(const std::string& message, bool print_here)
      : Error(message), print_here_(print_here) {}
  bool print_here() const { return print_here_; }

 private:
  bool print_here_;
};

// Collective check point: every rank says whether it failed (a non-empty `failure`, the message
// of the exception it caught) and shares `payload`. If any rank failed, every rank throws
// RankFailure("rank R: <failure>") for the lowest such R; else returns every rank's payload.
std::vector<Bytes> agree(Communicator& comm, const std::string& failure, const Bytes& payload = {});

// [first, end) of shard `shard` among `shards` over `count` items (samples, or shards over ranks).
std::pair<int64_t, int64_t> shard_range(int64_t count, int64_t shards, int64_t shard);

// Sums the shards' gradients of a batch into the same bits on every rank, for any rank count.
class GradientSum {
 public:
  // `parameters`: P, the gradient length; `shards`: S ≥ comm.size().
  GradientSum(Communicator& comm, int64_t parameters, int64_t shards, bool plain_allreduce);
  int64_t shards() const { return shards_; }
  int64_t first_shard() const { return first_shard_; }  // this rank's [first, end)
  int64_t end_shard() const { return end_shard_; }
  // Adds shard s's gradient (P floats, mean over the shard) with weight `weight` (n_s / B); call
  // for this rank's shards in increasing order, after begin(). `gradient` is scaled in place.
  void begin();
  void add(int64_t shard, std::span<float> gradient, float weight);
  // The sum over every shard, left to right, written to `out` [P] on every rank.
  void finish(std::span<float> out);

 private:
  Communicator& comm_;
  int64_t parameters_, shards_, first_shard_, end_shard_;
  bool plain_;
  // [pieces, P]: rank 0 folds its shards (a prefix of the order) into one piece; other ranks
  // keep one piece per shard, since the fold must run in shard order at the receiver.
  std::vector<float> pieces_;
  int64_t pieces_used_ = 0;
  std::vector<float> receive_, chunk_;  // all_to_all receipt, this rank's summed chunk
};

}  // namespace lstm::distributed

namespace lstm::distributed {
// True when the process was started by mpiexec/mpirun (Open MPI, MPICH or PMIx variables).
bool launched_by_mpi();
}  // namespace lstm::distributed
