// What the kernel dispatchers need from core/isa.cpp: which copy of the vector kernels to call.
#pragma once

#include "lstm/isa.hpp"

namespace lstm {

// The copy of the float kernels (core/target.hpp's namespaces) that serves each path: the
// bf16 paths add bf16 products to the avx512 copy.
enum class VectorPath { scalar, avx2, avx512 };

inline VectorPath vector_path(Isa isa) {
  return isa >= Isa::avx512 ? VectorPath::avx512 : isa == Isa::avx2 ? VectorPath::avx2 : VectorPath::scalar;
}

// The int8 instructions (core/int8_gemm.hpp), where the CPU and the OS allow them.
bool cpu_has_avx_vnni();
bool cpu_has_avx512_vnni();
bool cpu_has_amx_int8();

// An AMD Zen 4 (family 19h with AVX-512), where OpenBLAS's AVX2 kernels beat its AVX-512 ones
// (core/blas.cpp).
bool cpu_is_amd_zen4();

// Counted by the network driver each time it takes the kernels of the active path.
void count_dispatch(Isa isa);

}  // namespace lstm
