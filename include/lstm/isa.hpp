// The instruction sets the kernels are built for, and the one the run-time dispatch chooses.
#pragma once

#include <string>
#include <vector>

namespace lstm {

// In order: each path needs what the ones before it need.
//   scalar       portable C++ (the x86-64 baseline)
//   avx2         AVX2 + FMA, 8 floats per register
//   avx512       AVX-512 F/BW/DQ/VL, 16 floats per register
//   avx512_bf16  avx512 + VDPBF16PS: bf16 products (--precision bf16) on the vector units
//   amx          avx512_bf16 + AMX-BF16 tiles for the bf16 products (with the Linux permission)
enum class Isa { scalar, avx2, avx512, avx512_bf16, amx };

const char* isa_name(Isa isa);
// Parses a name as isa_name() writes it; throws lstm::Error naming the accepted names.
Isa parse_isa(const std::string& name);
std::vector<Isa> all_isas();

// The best path this CPU and OS support.
Isa cpu_isa();
// The path in force: cpu_isa() capped by the environment variable LSTM_MAX_ISA (read once).
// Throws lstm::Error when LSTM_MAX_ISA holds an unknown name.
Isa active_isa();
bool isa_supported(Isa isa);  // isa <= cpu_isa()

// The CPU's brand string and the instruction-set extensions the dispatch looks at, as
// "avx2 fma avx512f ... amx-bf16" (those present).
std::string cpu_name();
std::string cpu_features();

// The BLAS behind the products the library does not compute itself (the input products and the
// weight gradients in float), with its kernels and how they were chosen, as "OpenBLAS Haswell
// (chosen for AMD Zen 4)" (core/blas.cpp). Opens OpenBLAS if it is not open yet.
std::string blas_kernels();

// How many times the network driver took its kernels from each path's table (tests use it to
// check that a capped run computes with the capped path).
unsigned long long isa_dispatch_count(Isa isa);

}  // namespace lstm
