// The trainer's data-parallel seam: shards of a batch, shard-order sums, rank 0's decisions.
#include "apps/data_parallel.hpp"

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>

#include "core/random.hpp"

namespace lstm::apps {
namespace {

distributed::Bytes to_bytes(std::span<const double> values) {
  distributed::Bytes bytes(values.size() * sizeof(double));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<double> to_doubles(const distributed::Bytes& bytes) {
  std::vector<double> values(bytes.size() / sizeof(double));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), values.size() * sizeof(double));
  return values;
}

}  // namespace

DataParallel::DataParallel(const TrainerOptions& options, SequenceModel& model)
    : comm_(options.communicator ? *options.communicator : distributed::single_process()),
      shards_(options.shards),
      batch_size_(options.batch_size),
      sum_(comm_, model.num_parameters(), std::max<int64_t>(options.shards, 1),
           options.plain_allreduce) {
  if (options.shards < 1) throw Error("training: --shards must be at least 1");
  if (options.shards > options.batch_size)
    throw Error("training: --shards " + std::to_string(options.shards) +
                " is more than the batch of " + std::to_string(options.batch_size) +
                "; give at most one shard per sample");
}

void DataParallel::broadcast_parameters(SequenceModel& model) {
  if (comm_.size() == 1) return;
  std::vector<ParameterView> parameters = model.parameters();
  distributed::Bytes bytes;
  if (root())
    for (const ParameterView& parameter : parameters) {
      const auto* first = reinterpret_cast<const unsigned char*>(parameter.value.data());
      bytes.insert(bytes.end(), first, first + parameter.value.size_bytes());
    }
  comm_.broadcast(bytes, 0);
  size_t offset = 0;
  for (const ParameterView& parameter : parameters) {
    std::memcpy(parameter.value.data(), bytes.data() + offset, parameter.value.size_bytes());
    offset += parameter.value.size_bytes();
  }
}

distributed::Bytes DataParallel::read_on_root(const std::string& path) {
  distributed::Bytes bytes;
  collectively([&] {
    if (!root()) return;
    std::ifstream file(path, std::ios::binary);
    if (!file) throw Error(path + ": cannot open");
    bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    if (file.bad()) throw Error(path + ": read error");
  });
  comm_.broadcast(bytes, 0);
  return bytes;
}

void DataParallel::check_same_count(int64_t count) {
  const double mine = static_cast<double>(count);
  const std::vector<distributed::Bytes> all =
      distributed::agree(comm_, "", to_bytes(std::span<const double>(&mine, 1)));
  const double first = to_doubles(all[0]).at(0);
  for (size_t r = 1; r < all.size(); ++r)
    if (to_doubles(all[r]).at(0) != first)
      throw distributed::RankFailure(
          "rank " + std::to_string(r) + " has " +
              std::to_string(static_cast<int64_t>(to_doubles(all[r]).at(0))) +
              " training samples but rank 0 has " + std::to_string(static_cast<int64_t>(first)) +
              ": every rank must read the same data",
          root());
}

distributed::Bytes DataParallel::encode(const Decision& decision) {
  const double values[4] = {decision.out_of_time ? 1.0 : 0.0, decision.stop_requested ? 1.0 : 0.0,
                            decision.checkpoint_due ? 1.0 : 0.0, decision.elapsed_seconds};
  return to_bytes(values);
}

DataParallel::Decision DataParallel::decode(const distributed::Bytes& bytes) {
  const std::vector<double> values = to_doubles(bytes);
  if (values.size() != 4) throw Error("training: rank 0's decision is malformed");
  return {values[0] != 0, values[1] != 0, values[2] != 0, values[3]};
}

std::vector<double> DataParallel::gather(const std::function<std::vector<double>()>& local) {
  std::vector<double> mine;
  std::string failure;
  try {
    mine = local();
  } catch (const distributed::RankFailure&) {
    throw;
  } catch (const std::exception& error) {
    failure = error.what();
  }
  std::vector<double> all;
  for (const distributed::Bytes& part : distributed::agree(comm_, failure, to_bytes(mine))) {
    const std::vector<double> values = to_doubles(part);
    all.insert(all.end(), values.begin(), values.end());
  }
  return all;
}

double DataParallel::train_batch(SequenceModel& model, TrainingTask& task,
                                 std::span<const int64_t> ids, int64_t batch,
                                 uint64_t dropout_seed) {
  const int64_t B = static_cast<int64_t>(ids.size());
  const std::vector<double> losses = gather([&] {
    std::vector<double> mine;  // this rank's shards' weighted losses, in shard order
    sum_.begin();
    for (int64_t s = sum_.first_shard(); s < sum_.end_shard(); ++s) {
      const auto [first, end] = distributed::shard_range(B, shards_, s);
      model.zero_grad();
      double loss = 0.0;
      if (end > first) {
        // Shard 0 keeps the batch's seed, so that one shard is exactly the undivided batch.
        const uint64_t seed = s == 0 ? dropout_seed : mix64(dropout_seed ^ mix64(uint64_t(s)));
        loss = task.train_batch(model, ids.subspan(first, end - first), batch, seed);
      }
      const double share = static_cast<double>(end - first) / static_cast<double>(B);
      mine.push_back(share * loss);
      sum_.add(s, model.gradients(), static_cast<float>(share));
    }
    return mine;
  });
  double batch_loss = 0.0;
  for (const double loss : losses) batch_loss += loss;  // in shard order
  sum_.finish(model.gradients());
  return batch_loss;
}

double DataParallel::validation_loss(SequenceModel& model, TrainingTask& task) {
  return task.validation_from_terms(gather([&] {
    std::vector<double> mine;
    for (int64_t part = sum_.first_shard(); part < sum_.end_shard(); ++part) {
      const std::vector<double> terms = task.validation_terms(model, part, shards_);
      mine.insert(mine.end(), terms.begin(), terms.end());
    }
    return mine;
  }));
}

std::vector<std::pair<std::string, HostTensor>> DataParallel::carried_state(
    const TrainingTask& task) {
  std::vector<std::pair<std::string, HostTensor>> tensors = task.carried_state();
  if (comm_.size() == 1) return tensors;
  // Columns of rank r: the samples of its shards in a full batch.
  const int N = comm_.size();
  std::vector<int64_t> first_column(N), columns(N);
  for (int r = 0; r < N; ++r) {
    const auto [first_shard, end_shard] = distributed::shard_range(shards_, N, r);
    first_column[r] = distributed::shard_range(batch_size_, shards_, first_shard).first;
    columns[r] =
        distributed::shard_range(batch_size_, shards_, end_shard - 1).second - first_column[r];
  }
  const int me = comm_.rank();
  for (auto& [name, tensor] : tensors) {
    if (tensor.shape.size() != 3 || tensor.shape[1] != batch_size_)
      throw Error("training: carried state '" + name + "' is not [rows, batch, width]");
    const int64_t rows = tensor.shape[0], X = tensor.shape[2];
    std::vector<float> mine, all(tensor.data.size());
    for (int64_t row = 0; row < rows; ++row) {
      const float* source = tensor.data.data() + (row * batch_size_ + first_column[me]) * X;
      mine.insert(mine.end(), source, source + columns[me] * X);
    }
    std::vector<int64_t> counts(N);
    for (int r = 0; r < N; ++r) counts[r] = rows * columns[r] * X;
    comm_.all_gather(mine, counts, all);
    // `all` is rank by rank [rows, columns_r, X]; put each block back into [rows, batch, X].
    int64_t offset = 0;
    for (int r = 0; r < N; ++r)
      for (int64_t row = 0; row < rows; ++row) {
        std::copy_n(all.data() + offset, columns[r] * X,
                    tensor.data.data() + (row * batch_size_ + first_column[r]) * X);
        offset += columns[r] * X;
      }
  }
  return tensors;
}

}  // namespace lstm::apps
