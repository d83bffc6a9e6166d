// The loops fma_peak times: independent-chain arithmetic per instruction set, a read-bandwidth pass, a clock probe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace peak {

// What the CPU has and the OS has enabled (CPUID + XGETBV); amx also needs request_amx_permission().
struct CpuFeatures {
  bool fma256 = false;     // AVX2 + FMA, OS saves ymm
  bool fma512 = false;     // AVX-512 F, OS saves zmm
  bool bf16_dot = false;   // AVX512-BF16 (VDPBF16PS)
  bool vnni512 = false;    // AVX512-VNNI (VPDPBUSD)
  bool amx_bf16 = false;   // AMX-TILE + AMX-BF16, OS saves tile state
  std::string brand;       // "Intel(R) Xeon(R) ..." from CPUID 0x80000002..4
};
CpuFeatures detect_cpu();

// Linux: asks the kernel for the AMX tile-data state (arch_prctl ARCH_REQ_XCOMP_PERM). True when granted.
bool request_amx_permission();

// Each kernel runs `reps` iterations of its independent chains and returns a value derived from
// every accumulator (so no work can be optimised away). Operations per iteration are given by
// the matching *_ops_per_rep constant, counted as: FMA = 2 flops per lane; VDPBF16PS = 2 bf16
// products + 2 adds per fp32 lane; VPDPBUSD = 4 u8·s8 products + 4 adds per int32 lane;
// TDPBF16PS on 16×16 fp32 tiles with K = 32 = 2·16·16·32.
constexpr int kChains256 = 12;  // ymm accumulators: covers 4-cycle latency × 2 ports with room
constexpr int kChains512 = 16;  // zmm accumulators (of 32 registers)
constexpr double fma256_ops_per_rep = kChains256 * 8 * 2.0;
constexpr double fma512_ops_per_rep = kChains512 * 16 * 2.0;
constexpr double bf16_dot_ops_per_rep = kChains512 * 16 * 4.0;
constexpr double vnni_ops_per_rep = kChains512 * 16 * 8.0;
constexpr double amx_bf16_ops_per_rep = 4 * 2.0 * 16 * 16 * 32;  // four independent tile products

double fma256_chains(std::int64_t reps);
double fma512_chains(std::int64_t reps);
double bf16_dot_chains(std::int64_t reps);
double vnni_chains(std::int64_t reps);
double amx_bf16_chains(std::int64_t reps);  // configures, uses and releases the tiles of this thread

// A chain of dependent 1-cycle integer adds: `reps` iterations of clock_cycles_per_rep cycles.
constexpr double clock_cycles_per_rep = 200;
double clock_chain(std::int64_t reps);

// Reads `bytes` (a multiple of 256) from 64-byte-aligned `data` once with the widest loads the
// CPU has; returns a value depending on every byte read.
std::uint64_t read_pass(const void* data, std::size_t bytes, const CpuFeatures& cpu);

}  // namespace peak
