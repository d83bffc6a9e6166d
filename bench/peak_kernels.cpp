// Independent-chain loops per instruction set (compiled with target attributes, no -march needed) and a read pass.
#include "peak_kernels.hpp"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

// Timed loops are not instrumented in sanitizer builds: the checks would put the accumulators in memory.
#define PEAK_LOOP __attribute__((no_sanitize("address", "undefined")))

namespace peak {
namespace {

// Horizontal sums through memory (GCC 12's reduce intrinsics trip -Werror=uninitialized).
template <typename Lane, typename Vector>
double lane_sum(const Vector& v) {
  Lane lanes[sizeof(Vector) / sizeof(Lane)];
  std::memcpy(lanes, &v, sizeof lanes);
  double sum = 0;
  for (Lane x : lanes) sum += static_cast<double>(x);
  return sum;
}

// XCR0: which register states the OS saves on a context switch.
std::uint64_t xcr0() {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

bool bit(std::uint32_t word, int n) { return (word >> n) & 1u; }

}  // namespace

CpuFeatures detect_cpu() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = bit(c, 27), avx = bit(c, 28), fma = bit(c, 12);
  const std::uint64_t xcr = osxsave ? xcr0() : 0;
  const bool os_ymm = (xcr & 0x6) == 0x6, os_zmm = (xcr & 0xe6) == 0xe6;
  const bool os_tiles = (xcr & 0x60000) == 0x60000;
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
  if (__get_cpuid_count(7, 0, &a, &b7, &c7, &d7)) {
    unsigned unused_b = 0, unused_c = 0, unused_d = 0;
    if (a >= 1) __get_cpuid_count(7, 1, &a71, &unused_b, &unused_c, &unused_d);
  }
  f.fma256 = avx && fma && os_ymm && bit(b7, 5);
  f.fma512 = f.fma256 && os_zmm && bit(b7, 16) && bit(b7, 30);  // F + BW
  f.bf16_dot = f.fma512 && bit(a71, 5);
  f.vnni512 = f.fma512 && bit(c7, 11);
  f.amx_bf16 = os_tiles && bit(d7, 24) && bit(d7, 22);
  unsigned brand[12] = {};
  if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
    for (unsigned leaf = 0; leaf < 3; ++leaf)
      __get_cpuid(0x80000002 + leaf, &brand[4 * leaf], &brand[4 * leaf + 1], &brand[4 * leaf + 2],
                  &brand[4 * leaf + 3]);
    char text[49] = {};
    std::memcpy(text, brand, 48);
    f.brand = text;
    const auto first = f.brand.find_first_not_of(' ');
    f.brand = first == std::string::npos ? "" : f.brand.substr(first);
  }
  return f;
}

bool request_amx_permission() {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

// One iteration of the timed loops: the same instruction on every accumulator, written as
// assembly (AT&T order: `insn x, y, acc` computes acc ∘= y·x) so that no compiler can insert
// register copies or spills between the chains.
#define PEAK_OP(insn, k) insn " %[x], %[y], %" #k "\n\t"
#define PEAK_OPS4(insn, k0, k1, k2, k3) PEAK_OP(insn, k0) PEAK_OP(insn, k1) PEAK_OP(insn, k2) PEAK_OP(insn, k3)
#define PEAK_OPS12(insn) PEAK_OPS4(insn, 0, 1, 2, 3) PEAK_OPS4(insn, 4, 5, 6, 7) PEAK_OPS4(insn, 8, 9, 10, 11)
#define PEAK_OPS8(insn) PEAK_OPS4(insn, 0, 1, 2, 3) PEAK_OPS4(insn, 4, 5, 6, 7)
#define PEAK_ACC4(c, a, k) c(a[k]), c(a[k + 1]), c(a[k + 2]), c(a[k + 3])
#define PEAK_ACC12(c, a) PEAK_ACC4(c, a, 0), PEAK_ACC4(c, a, 4), PEAK_ACC4(c, a, 8)
#define PEAK_ACC8(c, a, k) PEAK_ACC4(c, a, k), PEAK_ACC4(c, a, k + 4)
// 16 zmm chains as two statements of 8 (an asm statement takes at most 30 operands).
#define PEAK_STEP16(insn, acc, x_value, y_value)                                         \
  do {                                                                                    \
    __asm__(PEAK_OPS8(insn) : PEAK_ACC8("+v", acc, 0) : [x] "v"(x_value), [y] "v"(y_value)); \
    __asm__(PEAK_OPS8(insn) : PEAK_ACC8("+v", acc, 8) : [x] "v"(x_value), [y] "v"(y_value)); \
  } while (0)

// The set-up and sum loops are unrolled too, so that the accumulators are plain registers.
// acc = acc·0.999 + 0.001 converges to 1: no overflow, no denormals (which would trap to microcode).
PEAK_LOOP __attribute__((target("avx2,fma"))) double fma256_chains(std::int64_t reps) {
  __m256 acc[kChains256];
#pragma GCC unroll 16
  for (int k = 0; k < kChains256; ++k) acc[k] = _mm256_set1_ps(0.5f + 0.01f * static_cast<float>(k));
  const __m256 mul = _mm256_set1_ps(0.999f), add = _mm256_set1_ps(0.001f);
  for (std::int64_t r = 0; r < reps; ++r)  // acc = acc·mul + add
    __asm__(PEAK_OPS12("vfmadd213ps") : PEAK_ACC12("+x", acc) : [x] "x"(add), [y] "x"(mul));
  __m256 sum = acc[0];
#pragma GCC unroll 16
  for (int k = 1; k < kChains256; ++k) sum = _mm256_add_ps(sum, acc[k]);
  return lane_sum<float>(sum);
}

PEAK_LOOP __attribute__((target("avx512f"))) double fma512_chains(std::int64_t reps) {
  __m512 acc[kChains512];
#pragma GCC unroll 16
  for (int k = 0; k < kChains512; ++k) acc[k] = _mm512_set1_ps(0.5f + 0.01f * static_cast<float>(k));
  const __m512 mul = _mm512_set1_ps(0.999f), add = _mm512_set1_ps(0.001f);
  for (std::int64_t r = 0; r < reps; ++r)  // acc = acc·mul + add
    PEAK_STEP16("vfmadd213ps", acc, add, mul);
  __m512 sum = acc[0];
#pragma GCC unroll 16
  for (int k = 1; k < kChains512; ++k) sum = _mm512_add_ps(sum, acc[k]);
  return lane_sum<float>(sum);
}

// acc += Σ pairs a·b with a·b tiny: the accumulators stay normal and finite.
PEAK_LOOP __attribute__((target("avx512f,avx512bf16"))) double bf16_dot_chains(std::int64_t reps) {
  __m512 acc[kChains512];
#pragma GCC unroll 16
  for (int k = 0; k < kChains512; ++k) acc[k] = _mm512_set1_ps(1.0f + static_cast<float>(k));
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(3e-3f), _mm512_set1_ps(1e-3f));
  for (std::int64_t r = 0; r < reps; ++r)  // acc += pairwise a·b
    PEAK_STEP16("vdpbf16ps", acc, b, a);
  __m512 sum = acc[0];
#pragma GCC unroll 16
  for (int k = 1; k < kChains512; ++k) sum = _mm512_add_ps(sum, acc[k]);
  return lane_sum<float>(sum);
}

PEAK_LOOP __attribute__((target("avx512f,avx512bw,avx512vnni"))) double vnni_chains(std::int64_t reps) {
  __m512i acc[kChains512];
#pragma GCC unroll 16
  for (int k = 0; k < kChains512; ++k) acc[k] = _mm512_set1_epi32(k);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);  // a read as u8, b as s8
  for (std::int64_t r = 0; r < reps; ++r)  // acc += Σ4 u8(a)·s8(b)
    PEAK_STEP16("vpdpbusd", acc, b, a);
  __m512i sum = acc[0];
#pragma GCC unroll 16
  for (int k = 1; k < kChains512; ++k) sum = _mm512_add_epi32(sum, acc[k]);
  return lane_sum<std::int32_t>(sum);
}

namespace {

// ldtilecfg operand, palette 1: tiles 0..7 all 16 rows × 64 bytes.
struct alignas(64) TileConfig {
  std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
  std::uint16_t bytes_per_row[16] = {};
  std::uint8_t rows[16] = {};
};

}  // namespace

// tmm0..3 accumulate C[i][j] += A[i]·B[j] for A in tmm4/5 and B in tmm6/7: four independent
// chains. The instructions are written as assembly so no AMX compiler flag is needed.
double amx_bf16_chains(std::int64_t reps) {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.bytes_per_row[t] = 64;
    config.rows[t] = 16;
  }
  alignas(64) std::uint16_t operand[16 * 32];  // one 16×64-byte tile of bf16 2^-7: sums stay finite
  for (auto& v : operand) v = 0x3c00;
  const void* src = operand;
  const long stride = 64;
  __asm__ volatile("ldtilecfg %0" ::"m"(config) : "memory");
  __asm__ volatile(
      "tilezero %%tmm0\n\ttilezero %%tmm1\n\ttilezero %%tmm2\n\ttilezero %%tmm3\n\t"
      "tileloadd (%0,%1,1), %%tmm4\n\ttileloadd (%0,%1,1), %%tmm5\n\t"
      "tileloadd (%0,%1,1), %%tmm6\n\ttileloadd (%0,%1,1), %%tmm7" ::"r"(src),
      "r"(stride)
      : "memory");
  for (std::int64_t r = 0; r < reps; ++r) {
    __asm__ volatile(
        "tdpbf16ps %%tmm6, %%tmm4, %%tmm0\n\ttdpbf16ps %%tmm7, %%tmm4, %%tmm1\n\t"
        "tdpbf16ps %%tmm6, %%tmm5, %%tmm2\n\ttdpbf16ps %%tmm7, %%tmm5, %%tmm3" ::);
  }
  alignas(64) float result[16 * 16];
  __asm__ volatile("tilestored %%tmm0, (%0,%1,1)" ::"r"(result), "r"(stride) : "memory");
  __asm__ volatile("tilerelease" ::: "memory");
  return result[0];
}

// Register-register adds: Golden Cove folds chains of add-immediate at rename, so those would
// overstate the clock.
double clock_chain(std::int64_t reps) {
  std::uint64_t x = 0, one = 1;
  for (std::int64_t r = 0; r < reps; ++r)
    __asm__ volatile(".rept 200\n\taddq %1, %0\n\t.endr" : "+r"(x) : "r"(one));
  return static_cast<double>(x);
}

namespace {

PEAK_LOOP __attribute__((target("avx512f"))) std::uint64_t read_pass512(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const __m512i*>(data);
  __m512i acc[8];
  for (auto& a : acc) a = _mm512_setzero_si512();
  for (std::size_t i = 0; i < bytes / 64; i += 8) {
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) acc[k] = _mm512_xor_si512(acc[k], _mm512_load_si512(p + i + k));
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm512_xor_si512(acc[0], acc[k]);
  return static_cast<std::uint64_t>(lane_sum<std::uint64_t>(acc[0]));
}

PEAK_LOOP __attribute__((target("avx2"))) std::uint64_t read_pass256(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const __m256i*>(data);
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (std::size_t i = 0; i < bytes / 32; i += 8) {
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) acc[k] = _mm256_xor_si256(acc[k], _mm256_load_si256(p + i + k));
  }
  for (int k = 1; k < 8; ++k) acc[0] = _mm256_xor_si256(acc[0], acc[k]);
  return static_cast<std::uint64_t>(lane_sum<std::uint64_t>(acc[0]));
}

PEAK_LOOP std::uint64_t read_pass_scalar(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const std::uint64_t*>(data);
  std::uint64_t acc[4] = {};
  for (std::size_t i = 0; i < bytes / 8; i += 4)
    for (int k = 0; k < 4; ++k) acc[k] ^= p[i + k];
  return acc[0] ^ acc[1] ^ acc[2] ^ acc[3];
}

}  // namespace

std::uint64_t read_pass(const void* data, std::size_t bytes, const CpuFeatures& cpu) {
  if (cpu.fma512) return read_pass512(data, bytes);
  if (cpu.fma256) return read_pass256(data, bytes);
  return read_pass_scalar(data, bytes);
}

}  // namespace peak
