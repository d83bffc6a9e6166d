// Data-parallel training's arithmetic: shards, the collective check point, and the gradient sum
// in shard order (a reduce-scatter by chunks of the parameters, then an all-gather).
#include "lstm/distributed.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <tuple>

namespace lstm::distributed {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void broadcast(Bytes&, int) override {}
  std::vector<Bytes> all_gather(const Bytes& mine) override { return {mine}; }
  void all_to_all(std::span<const float> send, std::span<const int64_t>, std::span<float> receive,
                  std::span<const int64_t>) override {
    std::copy(send.begin(), send.end(), receive.begin());
  }
  void all_gather(std::span<const float> mine, std::span<const int64_t>,
                  std::span<float> all) override {
    std::copy(mine.begin(), mine.end(), all.begin());
  }
  void all_reduce_sum(std::span<float>) override {}
};

}  // namespace

Communicator& single_process() {
  static SingleProcess instance;
  return instance;
}

std::vector<Bytes> agree(Communicator& comm, const std::string& failure, const Bytes& payload) {
  // [failed (0/1) | failure text or payload]
  const unsigned char* body =
      failure.empty() ? payload.data() : reinterpret_cast<const unsigned char*>(failure.data());
  const size_t length = failure.empty() ? payload.size() : failure.size();
  Bytes mine(1 + length);
  mine[0] = failure.empty() ? 0 : 1;
  if (length > 0) std::memcpy(mine.data() + 1, body, length);
  std::vector<Bytes> all = comm.all_gather(mine);
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r].empty() || all[r][0] == 0) continue;
    const std::string message(all[r].begin() + 1, all[r].end());
    // The first failed rank prints; every rank failed: the same cause everywhere (bad options,
    // a file every rank reads), said once without a rank.
    bool everyone = true;
    for (const Bytes& bytes : all) everyone = everyone && !bytes.empty() && bytes[0] != 0;
    const std::string text =
        comm.size() > 1 && !everyone ? "rank " + std::to_string(r) + ": " + message : message;
    throw RankFailure(text, static_cast<size_t>(comm.rank()) == r);
  }
  std::vector<Bytes> payloads(all.size());
  for (size_t r = 0; r < all.size(); ++r)
    if (all[r].size() > 1) payloads[r].assign(all[r].begin() + 1, all[r].end());
  return payloads;
}

std::pair<int64_t, int64_t> shard_range(int64_t count, int64_t shards, int64_t shard) {
  return {count * shard / shards, count * (shard + 1) / shards};
}

GradientSum::GradientSum(Communicator& comm, int64_t parameters, int64_t shards,
                         bool plain_allreduce)
    : comm_(comm), parameters_(parameters), shards_(shards), plain_(plain_allreduce) {
  if (shards < comm.size())
    throw Error("--shards " + std::to_string(shards) + " is fewer than the " +
                std::to_string(comm.size()) + " ranks; give at least one shard per rank");
  std::tie(first_shard_, end_shard_) = shard_range(shards, comm.size(), comm.rank());
  const int64_t pieces = comm.rank() == 0 || plain_ ? 1 : end_shard_ - first_shard_;
  pieces_.resize(static_cast<size_t>(pieces * parameters));
}

void GradientSum::begin() {
  pieces_used_ = 0;
}

void GradientSum::add(int64_t shard, std::span<float> gradient, float weight) {
  if (shard < first_shard_ || shard >= end_shard_ ||
      static_cast<int64_t>(gradient.size()) != parameters_)
    throw Error("GradientSum::add: shard or gradient size does not fit this rank");
  // Scale in place first, then add: the product is rounded once, the same on every rank.
  for (float& value : gradient) value *= weight;
  const bool fold = comm_.rank() == 0 || plain_;
  float* piece = pieces_.data() + (fold ? 0 : pieces_used_) * parameters_;
  if (!fold || pieces_used_ == 0)
    std::copy(gradient.begin(), gradient.end(), piece);
  else
    for (int64_t k = 0; k < parameters_; ++k) piece[k] += gradient[k];
  ++pieces_used_;
}

void GradientSum::finish(std::span<float> out) {
  const int64_t P = parameters_;
  const int N = comm_.size();
  if (N == 1 || plain_) {
    std::copy_n(pieces_.data(), P, out.data());
    if (N > 1) comm_.all_reduce_sum(out);
    return;
  }
  // Rank q sums chunk q of the parameters over every shard: it receives rank r's pieces' chunk q
  // (rank 0's folded prefix, then each later shard alone), in rank order = shard order.
  auto pieces_of = [&](int r) -> int64_t {
    if (r == 0) return 1;
    const auto [first, end] = shard_range(shards_, N, r);
    return end - first;
  };
  const int me = comm_.rank();
  const int64_t my_pieces = pieces_of(me);
  std::vector<int64_t> send_counts(N), receive_counts(N), chunk_counts(N);
  std::vector<float> send;
  send.reserve(static_cast<size_t>(my_pieces * P));
  for (int q = 0; q < N; ++q) {
    const auto [first, end] = shard_range(P, N, q);
    chunk_counts[q] = end - first;
    send_counts[q] = my_pieces * (end - first);
    for (int64_t p = 0; p < my_pieces; ++p)
      send.insert(send.end(), pieces_.begin() + p * P + first, pieces_.begin() + p * P + end);
  }
  const int64_t my_chunk = chunk_counts[me];
  int64_t received = 0;
  for (int r = 0; r < N; ++r) received += receive_counts[r] = pieces_of(r) * my_chunk;
  receive_.resize(static_cast<size_t>(received));
  comm_.all_to_all(send, send_counts, receive_, receive_counts);
  chunk_.assign(receive_.begin(), receive_.begin() + my_chunk);  // rank 0's prefix
  for (int64_t offset = my_chunk; offset < received; offset += my_chunk)
    for (int64_t k = 0; k < my_chunk; ++k) chunk_[k] += receive_[offset + k];
  comm_.all_gather(chunk_, chunk_counts, out);
}

}  // namespace lstm::distributed

namespace lstm::distributed {

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

}  // namespace lstm::distributed
