// MPI_COMM_WORLD as an lstm::distributed::Communicator: non-blocking collectives polled with a
// timeout, and MPI errors returned (not fatal), so that a dead or hung rank becomes an
// lstm::Error on every rank that can still run instead of a hang.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>
#include <thread>

#include "lstm/distributed_mpi.hpp"

namespace lstm::distributed {
namespace {

class MpiWorld final : public Communicator {
 public:
  explicit MpiWorld(double timeout_seconds) : timeout_(timeout_seconds) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised && MPI_Init(nullptr, nullptr) != MPI_SUCCESS)
      throw Error("MPI: initialisation failed");
    owns_mpi_ = !initialised;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) ==
        MPI_SUCCESS) {
      MPI_Comm_size(local, &local_size_);
      MPI_Comm_free(&local);
    }
  }
  ~MpiWorld() override {
    // After a failure the others may be gone: finalising would wait for them.
    if (owns_mpi_ && !broken_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }

  void broadcast(Bytes& bytes, int root) override {
    int64_t length = static_cast<int64_t>(bytes.size());
    MPI_Request request;
    check(MPI_Ibcast(&length, 1, MPI_INT64_T, root, MPI_COMM_WORLD, &request), "broadcast");
    wait(request, "broadcast");
    bytes.resize(static_cast<size_t>(length));
    // In pieces below 2^31 bytes (MPI counts are int).
    constexpr int64_t kPiece = int64_t{1} << 30;
    for (int64_t offset = 0; offset < length; offset += kPiece) {
      const int count = static_cast<int>(std::min(kPiece, length - offset));
      check(MPI_Ibcast(bytes.data() + offset, count, MPI_BYTE, root, MPI_COMM_WORLD, &request),
            "broadcast");
      wait(request, "broadcast");
    }
  }

  std::vector<Bytes> all_gather(const Bytes& mine) override {
    const int length = to_int(static_cast<int64_t>(mine.size()), "all_gather");
    std::vector<int> lengths(static_cast<size_t>(size_)), offsets(lengths.size());
    MPI_Request request;
    check(MPI_Iallgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, MPI_COMM_WORLD, &request),
          "all_gather");
    wait(request, "all_gather");
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      offsets[r] = to_int(total, "all_gather");
      total += lengths[r];
    }
    Bytes all(static_cast<size_t>(total));
    check(MPI_Iallgatherv(mine.data(), length, MPI_BYTE, all.data(), lengths.data(), offsets.data(),
                          MPI_BYTE, MPI_COMM_WORLD, &request),
          "all_gather");
    wait(request, "all_gather");
    std::vector<Bytes> out(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r)
      out[r].assign(all.begin() + offsets[r], all.begin() + offsets[r] + lengths[r]);
    return out;
  }

  void all_to_all(std::span<const float> send, std::span<const int64_t> send_counts,
                  std::span<float> receive, std::span<const int64_t> receive_counts) override {
    std::vector<int> sc, so, rc, ro;
    layout(send_counts, sc, so);
    layout(receive_counts, rc, ro);
    MPI_Request request;
    check(MPI_Ialltoallv(send.data(), sc.data(), so.data(), MPI_FLOAT, receive.data(), rc.data(),
                         ro.data(), MPI_FLOAT, MPI_COMM_WORLD, &request),
          "gradient exchange");
    wait(request, "gradient exchange");
  }

  void all_gather(std::span<const float> mine, std::span<const int64_t> counts,
                  std::span<float> all) override {
    std::vector<int> c, o;
    layout(counts, c, o);
    MPI_Request request;
    check(MPI_Iallgatherv(mine.data(), c[rank_], MPI_FLOAT, all.data(), c.data(), o.data(),
                          MPI_FLOAT, MPI_COMM_WORLD, &request),
          "gradient gather");
    wait(request, "gradient gather");
  }

  void all_reduce_sum(std::span<float> values) override {
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, values.data(), to_int(values.size(), "allreduce"), MPI_FLOAT,
                         MPI_SUM, MPI_COMM_WORLD, &request),
          "allreduce");
    wait(request, "allreduce");
  }

 private:
  int to_int(int64_t value, const char* what) {
    if (value > std::numeric_limits<int>::max()) {
      broken_ = true;
      throw Error("MPI " + std::string(what) + ": " + std::to_string(value) +
                  " elements exceed MPI's int counts");
    }
    return static_cast<int>(value);
  }
  void layout(std::span<const int64_t> counts, std::vector<int>& c, std::vector<int>& o) {
    c.resize(counts.size());
    o.resize(counts.size());
    int64_t offset = 0;
    for (size_t r = 0; r < counts.size(); ++r) {
      c[r] = to_int(counts[r], "exchange");
      o[r] = to_int(offset, "exchange");
      offset += counts[r];
    }
  }
  void check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    broken_ = true;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw Error("rank " + std::to_string(rank_) + ": MPI " + what + " failed (" +
                std::string(text, static_cast<size_t>(length)) +
                "); another rank has probably died");
  }
  // Polls the request: spins briefly, then sleeps up to 1 ms between tests (so that a waiting
  // rank leaves the cores to the ranks still computing), and gives up after the timeout.
  void wait(MPI_Request& request, const char* what) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    auto pause = std::chrono::microseconds(0);
    for (;;) {
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
      if (done) return;
      const double waited = std::chrono::duration<double>(Clock::now() - start).count();
      if (timeout_ > 0 && waited > timeout_) {
        broken_ = true;
        throw Error("rank " + std::to_string(rank_) + ": no answer from the other ranks within " +
                    std::to_string(static_cast<long long>(timeout_)) + " s in MPI " + what +
                    "; a rank has stopped or hangs (--mpi-timeout)");
      }
      if (waited > 1e-4) {
        pause = std::min(pause + std::chrono::microseconds(50), std::chrono::microseconds(1000));
        std::this_thread::sleep_for(pause);
      }
    }
  }

  double timeout_;
  int rank_ = 0, size_ = 1, local_size_ = 1;
  bool owns_mpi_ = false, broken_ = false;
};

}  // namespace

std::unique_ptr<Communicator> mpi_world(double timeout_seconds) {
  return std::make_unique<MpiWorld>(timeout_seconds);
}

}  // namespace lstm::distributed
