// Compiles a kernel source for one instruction set.
//
// CMake builds every kernel source (the cells, the packed products) once per path, with
// LSTM_ISA_AVX2 or LSTM_ISA_AVX512 defined, or neither for the portable baseline. Code between
// LSTM_BEGIN_TARGET and LSTM_END_TARGET is compiled for that path's instructions, and goes in
// namespace lstm::LSTM_ISA_NS (scalar, avx2 or avx512) so that the copies never meet at link
// time. Standard headers must be included before LSTM_BEGIN_TARGET: their inline functions then
// stay baseline code wherever the linker keeps them, and only our kernels use the wider
// instructions. core/kernels.hpp picks a path's copy at run time.
#pragma once

#if defined(LSTM_ISA_AVX512)
#define LSTM_ISA_NS avx512
#define LSTM_TARGET_STRING "avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt,avx512f,avx512bw,avx512dq,avx512vl"
#elif defined(LSTM_ISA_AVX2)
#define LSTM_ISA_NS avx2
#define LSTM_TARGET_STRING "avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt"
#else
#define LSTM_ISA_NS scalar
#endif

// Two steps, so that LSTM_TARGET_STRING is expanded before it is quoted.
#define LSTM_PRAGMA(text) LSTM_PRAGMA_QUOTED(text)
#define LSTM_PRAGMA_QUOTED(text) _Pragma(#text)
#if !defined(LSTM_TARGET_STRING)
#define LSTM_BEGIN_TARGET
#define LSTM_END_TARGET
#elif defined(__clang__)
#define LSTM_BEGIN_TARGET \
  LSTM_PRAGMA(clang attribute push(__attribute__((target(LSTM_TARGET_STRING))), apply_to = function))
#define LSTM_END_TARGET LSTM_PRAGMA(clang attribute pop)
#else
#define LSTM_BEGIN_TARGET LSTM_PRAGMA(GCC push_options) LSTM_PRAGMA(GCC target(LSTM_TARGET_STRING))
#define LSTM_END_TARGET LSTM_PRAGMA(GCC pop_options)
#endif
