// The precision of the recurrent matrix products.
#pragma once

namespace lstm {

// fp32: every product in float (the default; results match PyTorch to float precision).
// bf16: the matrix products of float networks with W_ih and W_hh — the input part x W_ihᵀ over
// all steps, h W_hhᵀ and dgates W_hh at every step, dX = dgates W_ih, and the dW_ih and dW_hh
// sums — round both operands to bfloat16 and accumulate in float, with VDPBF16PS (AVX512-BF16:
// Zen 4, Cooper Lake) or on the AMX tile units (Sapphire Rapids), whichever path is in force
// (lstm/isa.hpp). Like PyTorch's set_float32_matmul_precision("medium"): up to twice the product
// speed (more with AMX) for about three significant digits per product. Doubles, projections,
// and batch-1 forward steps that read W_hh in place, stay exact.
enum class MatmulPrecision { fp32, bf16 };

// Whether the path in force can run the bf16 products (avx512_bf16 or amx).
bool bf16_available();
// Applies to every later call, from any thread. bf16 throws lstm::Error where it is unavailable.
void set_matmul_precision(MatmulPrecision precision);
MatmulPrecision matmul_precision();

}  // namespace lstm
