// The int8 products (core/int8_gemm.hpp): every sum kernel the CPU has against exact integer
// sums, the dequantizing product against the scheme written out independently
// (reference/int8_reference.hpp), the kernel the dispatch picks, and the network-level rules
// (re-quantizing after a change of weights, no backward).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/int8_gemm.hpp"
#include "lstm/lstm.hpp"
#include "isa_test_util.hpp"
#include "reference/int8_reference.hpp"
#include "test_util.hpp"

LSTM_TEST_PER_ISA_PATH();

namespace {

namespace int8 = lstm::int8;

std::set<std::string> cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::string> flags;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      for (std::string w; words >> w;) flags.insert(w);
      break;
    }
  return flags;
}

struct NamedKernel {
  const char* name;
  int8::SumKernel kernel;
  bool available;
};

// Every kernel, and whether this CPU (by /proc/cpuinfo, not the library) can run it.
std::vector<NamedKernel> kernels() {
  const std::set<std::string> f = cpu_flags();
  return {{"portable", int8::portable_sums, true},
          {"avx_vnni", int8::avx_vnni_sums, f.count("avx_vnni") && f.count("avx2") > 0},
          {"avx512_vnni", int8::avx512_vnni_sums, f.count("avx512_vnni") && f.count("avx512bw") > 0},
          {"amx_int8", int8::amx_sums, f.count("amx_int8") && f.count("amx_tile") > 0}};
}

TEST(Int8, SumKernelsAreExact) {
  std::mt19937 rng(7);
  for (const NamedKernel& k : kernels()) {
    if (!k.available) {
      std::printf("skipping the %s kernel: this CPU lacks it\n", k.name);
      continue;
    }
    if (std::string(k.name) == "amx_int8" && lstm::active_isa() != lstm::Isa::amx) {
      std::printf("skipping the amx_int8 kernel: the amx path is not in force (no tile permission or capped)\n");
      continue;
    }
    for (const int64_t kpad : {64, 128, 320, 2112})  // 2112: past the VNNI kernels' depth chunk
      for (const int64_t rows : {1, 2, 5, 16, 17, 31, 32})
        for (const int64_t panels : {1, 2, 3, 4})
          for (const bool extreme : {false, true}) {
            SCOPED_TRACE(std::string(k.name) + " kpad " + std::to_string(kpad) + " rows " + std::to_string(rows) +
                         " panels " + std::to_string(panels) + (extreme ? " extreme" : ""));
            // A with 32 rows (tiles may read all of them), panels of [kpad/4][16][4].
            std::vector<uint8_t> a(static_cast<size_t>(32 * kpad));
            std::vector<int8_t> w(static_cast<size_t>(panels * 16 * kpad));
            for (auto& v : a) v = extreme ? 255 : static_cast<uint8_t>(rng() % 256);
            for (size_t i = 0; i < w.size(); ++i)
              w[i] = extreme ? static_cast<int8_t>(i % 2 ? 127 : -127) : static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
            std::vector<int32_t> sums(static_cast<size_t>(int8::kRowBlock * int8::kSumsLd), -1);
            const bool amx = std::string(k.name) == "amx_int8";
            if (amx) int8::amx_configure();
            k.kernel(a.data(), kpad, rows, w.data(), panels, kpad, sums.data());
            if (amx) int8::amx_release();
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t p = 0; p < panels; ++p)
                for (int64_t lane = 0; lane < 16; ++lane) {
                  int64_t exact = 0;
                  for (int64_t d = 0; d < kpad; ++d)
                    exact += int64_t{a[static_cast<size_t>(r * kpad + d)]} *
                             w[static_cast<size_t>(p * 16 * kpad + (d / 4) * 64 + lane * 4 + d % 4)];
                  ASSERT_EQ(sums[static_cast<size_t>(r * int8::kSumsLd + p * 16 + lane)], exact)
                      << "row " << r << " panel " << p << " lane " << lane;
                }
          }
  }
}

// The dispatch: the best kernel of the path in force, by /proc/cpuinfo.
TEST(Int8, KernelFollowsThePathInForce) {
  const std::set<std::string> f = cpu_flags();
  const lstm::Isa isa = lstm::active_isa();
  const char* expected = "portable";
  if (isa == lstm::Isa::amx && f.count("amx_int8")) expected = "amx_int8";
  else if (isa >= lstm::Isa::avx512 && f.count("avx512_vnni")) expected = "avx512_vnni";
  else if (isa >= lstm::Isa::avx2 && f.count("avx_vnni")) expected = "avx_vnni";
  EXPECT_STREQ(int8::kernel_name(int8::active_kernel()), expected) << "path " << lstm::isa_name(isa);
}

std::vector<float> random_matrix(size_t count, std::mt19937& rng, float spread, float shift = 0) {
  std::normal_distribution<float> normal(shift, spread);
  std::vector<float> v(count);
  for (auto& x : v) x = normal(rng);
  return v;
}

// C (+)= A Wᵀ through Weights, Rows and multiply(), against the reference's quantize-and-sum,
// for blocks, unit ranges, depths that are not multiples of 4 or 64, and many rows.
TEST(Int8, ProductMatchesTheSchemeToFloatRounding) {
  std::mt19937 rng(11);
  for (const int64_t k : {1, 5, 64, 100, 300})
    for (const int64_t m : {1, 3, 17, 40})
      for (const auto& [blocks, per_block] : std::vector<std::pair<int64_t, int64_t>>{{1, 6}, {4, 16}, {3, 37}})
        for (const bool accumulate : {false, true}) {
          SCOPED_TRACE("k " + std::to_string(k) + " m " + std::to_string(m) + " blocks " + std::to_string(blocks) + "x" +
                       std::to_string(per_block) + (accumulate ? " accumulate" : ""));
          const int64_t n = blocks * per_block;
          const std::vector<float> w = random_matrix(static_cast<size_t>(n * k), rng, 0.3f);
          const std::vector<float> a = random_matrix(static_cast<size_t>(m * k), rng, 1.0f, 0.4f);  // not centred
          const std::vector<float> c0 = random_matrix(static_cast<size_t>(m * n), rng, 1.0f);
          int8::Weights qw;
          qw.shape(blocks, per_block, k);
          qw.quantize(w.data(), k, 0, per_block);
          int8::Rows qa;
          qa.shape(m, k);
          qa.quantize(0, m, a.data(), k);
          // Two unit ranges, as two threads would compute them.
          const int64_t split = per_block > 16 ? 16 : per_block;
          std::vector<float> c = c0;
          int8::multiply(qa, 0, m, qw, c.data(), n, 0, split, accumulate);
          if (split < per_block) int8::multiply(qa, 0, m, qw, c.data(), n, split, per_block, accumulate);
          std::vector<float> expected(static_cast<size_t>(n));
          for (int64_t r = 0; r < m; ++r) {
            lstm::naive::int8::product(w.data(), n, k, a.data() + r * k, expected.data());
            for (int64_t j = 0; j < n; ++j) {
              const double want = expected[static_cast<size_t>(j)] + (accumulate ? c0[static_cast<size_t>(r * n + j)] : 0.0);
              const double got = c[static_cast<size_t>(r * n + j)];
              ASSERT_NEAR(got, want, 1e-6 * (std::fabs(want) + std::fabs(c0[static_cast<size_t>(r * n + j)])) + 1e-30)
                  << "row " << r << " column " << j;
            }
          }
        }
}

// A row holding NaN gives NaN products in that row only; a zero row gives zeros.
TEST(Int8, NonFiniteAndZeroRows) {
  std::mt19937 rng(3);
  const int64_t k = 20, n = 16, m = 3;
  const std::vector<float> w = random_matrix(static_cast<size_t>(n * k), rng, 0.3f);
  std::vector<float> a = random_matrix(static_cast<size_t>(m * k), rng, 1.0f);
  a[5] = std::nanf("");
  for (int64_t i = 0; i < k; ++i) a[static_cast<size_t>(2 * k + i)] = 0;
  int8::Weights qw;
  qw.shape(1, n, k);
  qw.quantize(w.data(), k, 0, n);
  int8::Rows qa;
  qa.shape(m, k);
  qa.quantize(0, m, a.data(), k);
  std::vector<float> c(static_cast<size_t>(m * n), 7.0f);
  int8::multiply(qa, 0, m, qw, c.data(), n, 0, n, false);
  for (int64_t j = 0; j < n; ++j) {
    EXPECT_TRUE(std::isnan(c[static_cast<size_t>(j)]));
    EXPECT_TRUE(std::isfinite(c[static_cast<size_t>(n + j)]));
    EXPECT_EQ(c[static_cast<size_t>(2 * n + j)], 0.0f);
  }
}

lstm::NetworkConfig small_lstm() {
  lstm::NetworkConfig config;
  config.input_size = 12;
  config.hidden_size = 40;
  return config;
}

std::vector<float> run(const lstm::Network<float>& net, const std::vector<float>& x, int64_t steps,
                       lstm::Workspace<float>& ws) {
  std::vector<float> y(static_cast<size_t>(steps * net.config().layer_output_size()));
  lstm::ForwardArgs<float> args;
  args.seq_len = steps;
  args.batch = 1;
  args.input = x.data();
  args.output = y.data();
  net.forward(lstm::Mode::inference, args, ws);
  return y;
}

// The workspace keeps the int8 weights, and quantizes again once the weights changed.
TEST(Int8, RequantizesAfterTheWeightsChange) {
  const test_util::PrecisionScope int8(lstm::MatmulPrecision::int8);
  lstm::Network<float> net(small_lstm());
  net.init_uniform(5);
  std::mt19937 rng(1);
  const std::vector<float> x = random_matrix(12 * 6, rng, 1.0f);
  lstm::Workspace<float> kept;
  const std::vector<float> before = run(net, x, 6, kept);
  for (float& v : net.parameter("weight_hh_l0")) v *= -1.0f;
  const std::vector<float> after = run(net, x, 6, kept);
  lstm::Workspace<float> fresh;
  EXPECT_EQ(after, run(net, x, 6, fresh));
  EXPECT_NE(after, before);
}

TEST(Int8, BackwardIsRefused) {
  lstm::Network<float> net(small_lstm());
  net.init_uniform(5);
  std::mt19937 rng(1);
  const std::vector<float> x = random_matrix(12 * 4, rng, 1.0f);
  std::vector<float> y(4 * 40), grads(static_cast<size_t>(net.num_parameters()));
  const test_util::PrecisionScope int8(lstm::MatmulPrecision::int8);
  lstm::Workspace<float> ws;
  lstm::ForwardArgs<float> args;
  args.seq_len = 4;
  args.batch = 1;
  args.input = x.data();
  args.output = y.data();
  net.forward(lstm::Mode::training, args, ws);  // keeps its record (inspect gates)
  lstm::BackwardArgs<float> back;
  back.grad_output = y.data();
  back.grad_params = grads.data();
  try {
    net.backward(back, ws);
    FAIL() << "backward ran with int8 products";
  } catch (const lstm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("int8"), std::string::npos) << e.what();
  }
}

}  // namespace
