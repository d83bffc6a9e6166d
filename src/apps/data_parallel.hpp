// The trainer's seam for data-parallel runs: this rank's shards of a batch and the shard-order
// gradient sum, rank 0's decisions shared with every rank, validation over fixed parts, the
// carried state gathered for checkpoints, and failures turned into one error on every rank.
// With the single-process communicator and one shard every step is what it always was.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "apps/trainer.hpp"
#include "lstm/distributed.hpp"

namespace lstm::apps {

class DataParallel {
 public:
  DataParallel(const TrainerOptions& options, SequenceModel& model);

  bool root() const { return comm_.rank() == 0; }
  distributed::Communicator& comm() { return comm_; }

  // Runs `body` on every rank; if it throws on any rank, every rank throws RankFailure naming
  // the first that failed.
  template <class Body>
  void collectively(Body&& body) {
    std::string failure;
    try {
      body();
    } catch (const distributed::RankFailure&) {
      throw;
    } catch (const std::exception& error) {
      failure = error.what();
    }
    distributed::agree(comm_, failure);
  }

  // Rank 0's model weights on every rank.
  void broadcast_parameters(SequenceModel& model);
  // The file's bytes, read on rank 0 only (the checkpoint only rank 0 writes), on every rank.
  distributed::Bytes read_on_root(const std::string& path);
  // Fails on every rank unless every rank has the same number of training samples.
  void check_same_count(int64_t count);

  // What rank 0 decided before a batch (its clock and its stop request rule for everyone).
  struct Decision {
    bool out_of_time = false, stop_requested = false, checkpoint_due = false;
    double elapsed_seconds = 0.0;
  };
  // Collective: rank 0's decision (computed by `decide` on rank 0 only) on every rank.
  template <class Decide>
  Decision shared(Decide&& decide) {
    distributed::Bytes payload;
    std::string failure;
    if (root()) try {
        payload = encode(decide());
      } catch (const std::exception& error) {
        failure = error.what();
      }
    return decode(distributed::agree(comm_, failure, payload)[0]);
  }

  // One batch: forward and backward of this rank's shards of `ids` (task.train_batch on each),
  // then the gradients summed in shard order into model.gradients() on every rank. Returns the
  // batch's mean loss (the shards' losses weighted by their share, summed in shard order).
  double train_batch(SequenceModel& model, TrainingTask& task, std::span<const int64_t> ids,
                     int64_t batch, uint64_t dropout_seed);
  // The validation loss from every rank's parts.
  double validation_loss(SequenceModel& model, TrainingTask& task);
  // The task's carried state with every rank's columns (its shards' samples), on every rank.
  std::vector<std::pair<std::string, HostTensor>> carried_state(const TrainingTask& task);

 private:
  // Runs `local` (this rank's values), then returns every rank's values in rank order on every
  // rank. An exception in `local` on any rank ends every rank with its message (agree).
  std::vector<double> gather(const std::function<std::vector<double>()>& local);
  static distributed::Bytes encode(const Decision& decision);
  static Decision decode(const distributed::Bytes& bytes);

  distributed::Communicator& comm_;
  int64_t shards_, batch_size_;
  distributed::GradientSum sum_;
};

}  // namespace lstm::apps
