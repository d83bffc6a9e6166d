// The precision of the recurrent matrix products.
#pragma once

namespace lstm {

// fp32: every product in float (the default; results match PyTorch to float precision).
// bf16: the recurrent products of float networks (h W_hhᵀ and dgates W_hh at every step, and
// the dW_hh sum over all steps) round both operands to bfloat16 and accumulate in float, on
// the CPU's AMX units.
// Like PyTorch's set_float32_matmul_precision("medium"): about three times the product speed
// for about three significant digits per product. Doubles, and batch-1 steps that read W_hh in
// place, stay exact.
enum class MatmulPrecision { fp32, bf16 };

// Whether this CPU and kernel can run the bf16 products (AMX-BF16, with the tile state granted).
bool bf16_available();
// Applies to every later call, from any thread. bf16 throws lstm::Error where it is unavailable.
void set_matmul_precision(MatmulPrecision precision);
MatmulPrecision matmul_precision();

}  // namespace lstm
