// lstm::distributed without MPI: N ranks as threads of this process behind the Communicator hook
// (as a C++ user could plug in their own transport). The shard-order gradient sum must equal a
// plain left fold written here, bit for bit, for every rank count; failures must reach every rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <tuple>

#include "lstm/distributed.hpp"

namespace {

using lstm::distributed::Bytes;

// Shared memory of N thread-ranks; every operation is: publish, barrier, read, barrier.
struct ThreadWorld {
  explicit ThreadWorld(int n) : size(n), barrier(n), bytes(n), floats(n), counts(n) {}
  int size;
  std::barrier<> barrier;
  std::vector<Bytes> bytes;
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<int64_t>> counts;
};

class ThreadComm final : public lstm::distributed::Communicator {
 public:
  ThreadComm(ThreadWorld& world, int rank) : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return world_.size; }
  void broadcast(Bytes& bytes, int root) override {
    if (rank_ == root) world_.bytes[root] = bytes;
    world_.barrier.arrive_and_wait();
    bytes = world_.bytes[root];
    world_.barrier.arrive_and_wait();
  }
  std::vector<Bytes> all_gather(const Bytes& mine) override {
    world_.bytes[rank_] = mine;
    world_.barrier.arrive_and_wait();
    std::vector<Bytes> all = world_.bytes;
    world_.barrier.arrive_and_wait();
    return all;
  }
  void all_to_all(std::span<const float> send, std::span<const int64_t> send_counts,
                  std::span<float> receive, std::span<const int64_t> receive_counts) override {
    world_.floats[rank_].assign(send.begin(), send.end());
    world_.counts[rank_].assign(send_counts.begin(), send_counts.end());
    world_.barrier.arrive_and_wait();
    int64_t at = 0;
    for (int r = 0; r < world_.size; ++r) {
      int64_t offset = 0;
      for (int q = 0; q < rank_; ++q) offset += world_.counts[r][q];
      EXPECT_EQ(world_.counts[r][rank_], receive_counts[r]);
      std::copy_n(world_.floats[r].begin() + offset, receive_counts[r], receive.begin() + at);
      at += receive_counts[r];
    }
    world_.barrier.arrive_and_wait();
  }
  void all_gather(std::span<const float> mine, std::span<const int64_t> counts,
                  std::span<float> all) override {
    EXPECT_EQ(static_cast<int64_t>(mine.size()), counts[rank_]);
    world_.floats[rank_].assign(mine.begin(), mine.end());
    world_.barrier.arrive_and_wait();
    int64_t at = 0;
    for (int r = 0; r < world_.size; ++r) {
      std::copy(world_.floats[r].begin(), world_.floats[r].end(), all.begin() + at);
      at += counts[r];
    }
    world_.barrier.arrive_and_wait();
  }
  void all_reduce_sum(std::span<float> values) override {
    world_.floats[rank_].assign(values.begin(), values.end());
    world_.barrier.arrive_and_wait();
    for (size_t k = 0; k < values.size(); ++k) {
      float total = 0.0f;
      for (int r = world_.size - 1; r >= 0; --r) total += world_.floats[r][k];  // any order
      values[k] = total;
    }
    world_.barrier.arrive_and_wait();
  }

 private:
  ThreadWorld& world_;
  int rank_;
};

// Runs body(comm) on N thread-ranks.
void run_ranks(int n, const std::function<void(lstm::distributed::Communicator&)>& body) {
  ThreadWorld world(n);
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&world, &body, r] {
      ThreadComm comm(world, r);
      body(comm);
    });
  for (std::thread& thread : threads) thread.join();
}

// Shard gradients [S, P] of very different magnitudes, so that the order of a float sum shows.
std::vector<std::vector<float>> shard_gradients(int64_t shards, int64_t P) {
  std::mt19937 random(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<std::vector<float>> g(static_cast<size_t>(shards), std::vector<float>(P));
  for (int64_t s = 0; s < shards; ++s)
    for (int64_t k = 0; k < P; ++k) g[s][k] = uniform(random) * std::pow(10.0f, float(s % 4) - 1);
  return g;
}

float share(int64_t batch, int64_t shards, int64_t s) {
  const auto [first, end] = lstm::distributed::shard_range(batch, shards, s);
  return static_cast<float>(static_cast<double>(end - first) / static_cast<double>(batch));
}

// The sum every rank must produce: ((w0 g0 + w1 g1) + w2 g2) + ..., each product rounded first.
std::vector<float> left_fold(const std::vector<std::vector<float>>& g, int64_t batch) {
  const int64_t shards = static_cast<int64_t>(g.size());
  std::vector<float> sum(g[0].size(), 0.0f);
  for (int64_t s = 0; s < shards; ++s)
    for (size_t k = 0; k < sum.size(); ++k) {
      const float product = g[s][k] * share(batch, shards, s);
      sum[k] = s == 0 ? product : sum[k] + product;
    }
  return sum;
}

std::vector<std::vector<float>> sum_on_ranks(int ranks, const std::vector<std::vector<float>>& g,
                                             int64_t batch, bool plain) {
  const int64_t shards = static_cast<int64_t>(g.size()), P = static_cast<int64_t>(g[0].size());
  std::vector<std::vector<float>> out(static_cast<size_t>(ranks));
  run_ranks(ranks, [&](lstm::distributed::Communicator& comm) {
    lstm::distributed::GradientSum sum(comm, P, shards, plain);
    sum.begin();
    for (int64_t s = sum.first_shard(); s < sum.end_shard(); ++s) {
      std::vector<float> gradient = g[s];  // scaled in place
      sum.add(s, gradient, share(batch, shards, s));
    }
    std::vector<float> result(static_cast<size_t>(P));
    sum.finish(result);
    out[comm.rank()] = result;
  });
  return out;
}

TEST(Distributed, ShardRangesCoverEverythingOnce) {
  for (int64_t count : {1, 5, 12, 13, 100})
    for (int64_t shards : {1, 2, 3, 6, 7}) {
      int64_t next = 0;
      for (int64_t s = 0; s < shards; ++s) {
        const auto [first, end] = lstm::distributed::shard_range(count, shards, s);
        EXPECT_EQ(first, next);
        EXPECT_GE(end, first);
        next = end;
      }
      EXPECT_EQ(next, count);
    }
}

TEST(Distributed, ShardOrderSumIsTheLeftFoldForEveryRankCount) {
  for (const auto& [shards, P, batch] :
       {std::tuple<int64_t, int64_t, int64_t>{6, 1001, 12}, {7, 64, 13}, {6, 5, 6}}) {
    const auto g = shard_gradients(shards, P);
    const std::vector<float> expected = left_fold(g, batch);
    for (int ranks = 1; ranks <= shards; ++ranks) {
      const auto results = sum_on_ranks(ranks, g, batch, false);
      for (int r = 0; r < ranks; ++r)
        ASSERT_EQ(std::memcmp(results[r].data(), expected.data(), expected.size() * sizeof(float)),
                  0)
            << shards << " shards, P " << P << ", " << ranks << " ranks, rank " << r;
    }
  }
}

// The data above does tell orders apart: summing the shards right to left gives other bits.
TEST(Distributed, TheDataTellsSumOrdersApart) {
  const auto g = shard_gradients(6, 1001);
  const std::vector<float> expected = left_fold(g, 12);
  auto reversed = g;
  std::reverse(reversed.begin(), reversed.end());
  // Shards of one size: the reversal changes only the order of the terms.
  EXPECT_NE(std::memcmp(left_fold(reversed, 12).data(), expected.data(), expected.size() * 4), 0);
}

TEST(Distributed, PlainAllreduceSumsEveryShard) {
  const auto g = shard_gradients(6, 100);
  const std::vector<float> expected = left_fold(g, 12);
  const auto results = sum_on_ranks(3, g, 12, true);
  for (size_t k = 0; k < expected.size(); ++k)
    EXPECT_NEAR(results[0][k], expected[k], 1e-5f * (1.0f + std::fabs(expected[k])));
}

TEST(Distributed, FewerShardsThanRanksIsAnError) {
  run_ranks(3, [](lstm::distributed::Communicator& comm) {
    EXPECT_THROW(lstm::distributed::GradientSum(comm, 10, 2, false), lstm::Error);
  });
}

TEST(Distributed, OneRanksFailureReachesEveryRankAndOnePrints) {
  std::vector<std::string> messages(3);
  std::vector<int> printers(3, 0);
  run_ranks(3, [&](lstm::distributed::Communicator& comm) {
    const std::string failure = comm.rank() == 1 ? "data.txt: cannot open" : "";
    try {
      lstm::distributed::agree(comm, failure, Bytes{1, 2, 3});
    } catch (const lstm::distributed::RankFailure& error) {
      messages[comm.rank()] = error.what();
      printers[comm.rank()] = error.print_here() ? 1 : 0;
    }
  });
  for (const std::string& message : messages) EXPECT_EQ(message, "rank 1: data.txt: cannot open");
  EXPECT_EQ(printers, (std::vector<int>{0, 1, 0}));
}

TEST(Distributed, EveryRankFailingIsSaidOnceWithoutARank) {
  std::vector<int> printers(2, 0);
  run_ranks(2, [&](lstm::distributed::Communicator& comm) {
    try {
      lstm::distributed::agree(comm, "--batch must be positive");
    } catch (const lstm::distributed::RankFailure& error) {
      EXPECT_STREQ(error.what(), "--batch must be positive");
      printers[comm.rank()] = error.print_here() ? 1 : 0;
    }
  });
  EXPECT_EQ(printers, (std::vector<int>{1, 0}));
}

TEST(Distributed, AgreeReturnsEveryRanksPayloadInRankOrder) {
  run_ranks(3, [](lstm::distributed::Communicator& comm) {
    const auto all = lstm::distributed::agree(comm, "", Bytes(comm.rank() + 1, 9));
    ASSERT_EQ(all.size(), 3u);
    for (size_t r = 0; r < all.size(); ++r) EXPECT_EQ(all[r], Bytes(r + 1, 9));
  });
}

TEST(Distributed, SingleProcessIsOneRank) {
  lstm::distributed::Communicator& comm = lstm::distributed::single_process();
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  const auto g = shard_gradients(4, 33);
  lstm::distributed::GradientSum sum(comm, 33, 4, false);
  sum.begin();
  for (int64_t s = 0; s < 4; ++s) {
    std::vector<float> gradient = g[s];
    sum.add(s, gradient, share(8, 4, s));
  }
  std::vector<float> out(33);
  sum.finish(out);
  EXPECT_EQ(std::memcmp(out.data(), left_fold(g, 8).data(), out.size() * 4), 0);
}

}  // namespace
