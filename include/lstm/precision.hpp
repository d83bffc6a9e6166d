// The precision of the recurrent matrix products.
#pragma once

#include <cstdint>

#include "lstm/config.hpp"

namespace lstm {

// fp32: every product in float (the default; results match PyTorch to float precision).
// bf16: the matrix products of float networks with W_ih and W_hh — the input part x W_ihᵀ over
// all steps, h W_hhᵀ and dgates W_hh at every step, dX = dgates W_ih, and the dW_ih and dW_hh
// sums — round both operands to bfloat16 and accumulate in float, with VDPBF16PS (AVX512-BF16:
// Zen 4, Cooper Lake) or on the AMX tile units (Sapphire Rapids), whichever path is in force
// (lstm/isa.hpp). Like PyTorch's set_float32_matmul_precision("medium"): up to twice the product
// speed (more with AMX) for about three significant digits per product. Doubles, projections,
// and batch-1 forward steps that read W_hh in place, stay exact.
// int8: inference only. The products with W_ih, W_hh and W_hr (and the highway gates' W_t) of
// float networks use weights
// quantized to int8 per output row (once per weights_version(), kept in the Workspace) and
// inputs and states quantized to uint8 per row at each step, with exact int32 sums (VNNI, AMX
// or portable: core/int8_gemm.hpp); the rest stays float. A training-mode forward keeps its record
// (inspect gates); backward throws lstm::Error.
enum class MatmulPrecision { fp32, bf16, int8 };
const char* precision_name(MatmulPrecision precision);

// The kernel the int8 products use on the path in force: "amx_int8", "avx512_vnni", "avx_vnni"
// or "portable".
const char* int8_kernel_name();

// A network's parameters in memory, in bytes: in float, and as --precision int8 keeps them
// (each row of W_ih, W_hh, W_hr and the highway gates' W_t as bytes with its float scale and
// int32 sum; biases and peepholes in float).
struct ParameterBytes {
  int64_t fp32 = 0, int8 = 0;
};
ParameterBytes parameter_bytes(const NetworkConfig& config);

// Whether the path in force can run the bf16 products (avx512_bf16 or amx).
bool bf16_available();
// Applies to every later call, from any thread. bf16 throws lstm::Error where it is unavailable.
void set_matmul_precision(MatmulPrecision precision);
MatmulPrecision matmul_precision();

}  // namespace lstm
