// An exact power-of-two scale that keeps sums of squares of a series finite (internal).
#pragma once

#include <span>

namespace lstm::detail {

// 2^-k bringing the largest finite |value| under 2^480 (1 when it already is, which is every
// series of ordinary size, whose statistics then stay bit-identical). Multiplying by a power of
// two is exact, so statistics computed on scaled values and scaled back lose nothing, and sums
// of up to 2^63 squares of the scaled values cannot overflow.
double overflow_safe_scale(std::span<const double> values);

}  // namespace lstm::detail
