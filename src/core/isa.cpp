// CPU detection (CPUID, XGETBV and the Linux AMX permission) and the LSTM_MAX_ISA cap.
#include "lstm/isa.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/isa_internal.hpp"
#include "lstm/error.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace lstm {
namespace {

constexpr std::array<const char*, 5> kNames = {"scalar", "avx2", "avx512", "avx512_bf16", "amx"};

struct Features {
  bool avx2 = false, fma = false, f16c = false, bmi2 = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false, avx512_vnni = false;
  bool avx512_bf16 = false, avx_vnni = false, amx_tile = false, amx_bf16 = false, amx_int8 = false;
  bool os_avx = false, os_avx512 = false, os_amx = false;
  bool amd_family_19h = false;  // AMD Zen 3 and Zen 4 (core/blas.cpp's choice of OpenBLAS kernels)
};

Features read_features() {
  Features f;
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const bool amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "AuthenticAMD"
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.amd_family_19h = amd && ((a >> 8) & 0xFu) + ((a >> 20) & 0xFFu) == 0x19;  // base + extended family
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  uint64_t xcr0 = 0;
  if (osxsave) {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (uint64_t{hi} << 32) | lo;
  }
  f.os_avx = avx && (xcr0 & 0x6) == 0x6;           // SSE and AVX state
  f.os_avx512 = f.os_avx && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM0-15 upper halves, ZMM16-31
  f.os_amx = (xcr0 & 0x60000) == 0x60000;           // XTILECFG, XTILEDATA
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = b & (1u << 5);
    f.bmi2 = b & (1u << 8);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512_vnni = c & (1u << 11);
    f.amx_bf16 = d & (1u << 22);
    f.amx_tile = d & (1u << 24);
    f.amx_int8 = d & (1u << 25);
    const unsigned max_subleaf = a;
    if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) {
      f.avx_vnni = a & (1u << 4);
      f.avx512_bf16 = a & (1u << 5);
    }
  }
#endif
  return f;
}

const Features& features() {
  static const Features f = read_features();
  return f;
}

// Linux hands out the 8 KiB of tile state only on request: ARCH_REQ_XCOMP_PERM for XTILEDATA.
bool amx_permitted() {
#if defined(__x86_64__)
  constexpr long kRequestPermission = 0x1023, kTileData = 18;
  static const bool granted = syscall(SYS_arch_prctl, kRequestPermission, kTileData) == 0;
  return granted;
#else
  return false;
#endif
}

Isa detect() {
  const Features& f = features();
  if (!(f.os_avx && f.avx2 && f.fma && f.f16c && f.bmi2)) return Isa::scalar;
  if (!(f.os_avx512 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl)) return Isa::avx2;
  if (!f.avx512_bf16 && !(f.amx_bf16 && f.amx_tile && f.os_amx)) return Isa::avx512;
  if (f.amx_bf16 && f.amx_tile && f.os_amx && amx_permitted()) return Isa::amx;
  return f.avx512_bf16 ? Isa::avx512_bf16 : Isa::avx512;
}

std::atomic<unsigned long long> dispatch_counts[kNames.size()];

}  // namespace

const char* isa_name(Isa isa) { return kNames[static_cast<size_t>(isa)]; }

Isa parse_isa(const std::string& name) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (name == kNames[i]) return static_cast<Isa>(i);
  throw Error("unknown instruction set '" + name + "': expected scalar, avx2, avx512, avx512_bf16 or amx");
}

std::vector<Isa> all_isas() { return {Isa::scalar, Isa::avx2, Isa::avx512, Isa::avx512_bf16, Isa::amx}; }

Isa cpu_isa() {
  static const Isa isa = detect();
  return isa;
}

bool isa_supported(Isa isa) { return isa <= cpu_isa(); }

Isa active_isa() {
  static const Isa isa = [] {
    const char* cap = std::getenv("LSTM_MAX_ISA");
    if (!cap || !*cap) return cpu_isa();
    Isa limit;
    try {
      limit = parse_isa(cap);
    } catch (const Error& e) {
      throw Error(std::string("LSTM_MAX_ISA: ") + e.what());
    }
    return std::min(limit, cpu_isa());
  }();
  return isa;
}

std::string cpu_name() {
#if defined(__x86_64__)
  unsigned regs[12] = {};
  unsigned top = 0, b = 0, c = 0, d = 0;
  __get_cpuid(0x80000000u, &top, &b, &c, &d);
  if (top < 0x80000004u) return "unknown x86-64 CPU";
  for (unsigned leaf = 0; leaf < 3; ++leaf)
    __get_cpuid(0x80000002u + leaf, &regs[leaf * 4], &regs[leaf * 4 + 1], &regs[leaf * 4 + 2], &regs[leaf * 4 + 3]);
  char text[49] = {};
  std::memcpy(text, regs, 48);
  std::string name(text);
  const size_t first = name.find_first_not_of(' '), last = name.find_last_not_of(' ');
  return first == std::string::npos ? "unknown x86-64 CPU" : name.substr(first, last - first + 1);
#else
  return "non-x86 CPU";
#endif
}

std::string cpu_features() {
  const Features& f = features();
  const std::pair<bool, const char*> list[] = {
      {f.avx2, "avx2"}, {f.fma, "fma"}, {f.f16c, "f16c"}, {f.bmi2, "bmi2"}, {f.avx512f, "avx512f"},
      {f.avx512bw, "avx512bw"}, {f.avx512dq, "avx512dq"}, {f.avx512vl, "avx512vl"},
      {f.avx512_vnni, "avx512_vnni"}, {f.avx_vnni, "avx_vnni"}, {f.avx512_bf16, "avx512_bf16"}, {f.amx_tile, "amx-tile"},
      {f.amx_bf16, "amx-bf16"}, {f.amx_int8, "amx-int8"}};
  std::string out;
  for (const auto& [present, name] : list)
    if (present) out.append(out.empty() ? "" : " ").append(name);
  return out;
}

bool cpu_is_amd_zen4() { return features().amd_family_19h && features().avx512f; }

bool cpu_has_avx_vnni() { return features().avx_vnni && isa_supported(Isa::avx2); }
bool cpu_has_avx512_vnni() { return features().avx512_vnni && isa_supported(Isa::avx512); }
bool cpu_has_amx_int8() {
  const Features& f = features();
  return f.amx_int8 && f.amx_tile && f.os_amx && amx_permitted();
}

unsigned long long isa_dispatch_count(Isa isa) {
  return dispatch_counts[static_cast<size_t>(isa)].load(std::memory_order_relaxed);
}

void count_dispatch(Isa isa) { dispatch_counts[static_cast<size_t>(isa)].fetch_add(1, std::memory_order_relaxed); }

}  // namespace lstm
