// gemm() over OpenBLAS's CBLAS interface, and its naive reference.
//
// OpenBLAS is opened here, the first time it is needed, rather than linked: it chooses its kernels
// once, as it loads, from the CPU or from the environment variable OPENBLAS_CORETYPE, and two cases
// call for another choice than its own:
// - LSTM_MAX_ISA caps the paths below the CPU's best: OpenBLAS takes the kernels of the cap too
//   (avx2: Haswell, scalar: Nehalem), so that a capped run is capped everywhere;
// - AMD Zen 4, where OpenBLAS 0.3.21 takes its Cooperlake (AVX-512) kernels, which run slower there
//   than its Haswell (AVX2) ones on all but small depths: `lstm bench --phases --threads 2`,
//   GFLOP/s a thread, Cooperlake → Haswell: lstm 1024/1024/64/25 train input products 98–99 →
//   102–105, weight gradients 98–99 → 102–105, dx 97–98 → 104–105; gru 512/512/64/50 train input
//   products 98 → 103–104; lstm 128/128/32/100 infer input products (depth 128) 81–82 → 74–78.
// A user's own OPENBLAS_CORETYPE is left to decide, and an OpenBLAS that the process has already
// loaded (numpy, PyTorch) is used as it is.
#include "core/blas.hpp"

#include <cblas.h>
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <type_traits>

#include "core/isa_internal.hpp"
#include "lstm/error.hpp"

#ifndef LSTM_OPENBLAS_PATH
#define LSTM_OPENBLAS_PATH "libopenblas.so.0"
#endif

namespace lstm {

namespace {

CBLAS_TRANSPOSE cblas_transpose(bool transpose) { return transpose ? CblasTrans : CblasNoTrans; }

// The kernels to ask OpenBLAS for and why, or a null core to leave the choice to OpenBLAS.
struct CoreChoice {
  const char* core;
  const char* why;
};
CoreChoice wanted_core() {
  if (const char* own = std::getenv("OPENBLAS_CORETYPE"); own && *own)
    return {nullptr, "OPENBLAS_CORETYPE"};
  const Isa isa = active_isa();
  if (isa == Isa::scalar && isa < cpu_isa()) return {"Nehalem", "LSTM_MAX_ISA"};
  if (isa == Isa::avx2 && isa < cpu_isa()) return {"Haswell", "LSTM_MAX_ISA"};
  if (cpu_is_amd_zen4()) return {"Haswell", "chosen for AMD Zen 4"};
  return {nullptr, "OpenBLAS's own choice"};
}

struct OpenBlas {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&cblas_dgemm) dgemm = nullptr;
  decltype(&openblas_set_num_threads) set_num_threads = nullptr;
  decltype(&openblas_get_corename) corename = nullptr;
  std::string why;  // how its kernels were chosen
};

OpenBlas open_openblas() {
  const char* paths[] = {LSTM_OPENBLAS_PATH, "libopenblas.so.0"};
  OpenBlas blas;
  void* library = nullptr;
  for (const char* path : paths)
    if (!library) library = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  if (library) {
    blas.why = "loaded before lstm";
  } else {
    // OpenBLAS reads OPENBLAS_CORETYPE as it loads. setenv is not safe against getenv on other
    // threads: this runs once, at the first product or when the thread team starts (before its
    // workers), or as the Python module is imported.
    const CoreChoice choice = wanted_core();
    if (choice.core) setenv("OPENBLAS_CORETYPE", choice.core, 1);
    for (const char* path : paths)
      if (!library) library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (choice.core) unsetenv("OPENBLAS_CORETYPE");
    blas.why = choice.why;
  }
  if (!library)
    throw Error(std::string("cannot open OpenBLAS (") + LSTM_OPENBLAS_PATH + "): " + dlerror());
  auto symbol = [library](auto& function, const char* name) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(library, name));
    if (!function) throw Error(std::string("OpenBLAS has no ") + name);
  };
  symbol(blas.sgemm, "cblas_sgemm");
  symbol(blas.dgemm, "cblas_dgemm");
  symbol(blas.set_num_threads, "openblas_set_num_threads");
  symbol(blas.corename, "openblas_get_corename");
  return blas;
}

const OpenBlas& openblas() {
  static const OpenBlas blas = open_openblas();
  return blas;
}

}  // namespace

std::string blas_kernels() {
  const OpenBlas& blas = openblas();
  return std::string("OpenBLAS ") + blas.corename() + " (" + blas.why + ")";
}

template <>
void gemm<float>(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  if (m == 0 || n == 0) return;
  openblas().sgemm(CblasRowMajor, cblas_transpose(transpose_a), cblas_transpose(transpose_b),
                   static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha,
                   a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                   static_cast<blasint>(ldc));
}

template <>
void gemm<double>(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                  double* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  openblas().dgemm(CblasRowMajor, cblas_transpose(transpose_a), cblas_transpose(transpose_b),
                   static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha,
                   a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
                   static_cast<blasint>(ldc));
}

template <typename T>
void naive_gemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, T alpha,
                const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      T sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const T a_ip = transpose_a ? a[p * lda + i] : a[i * lda + p];
        const T b_pj = transpose_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += a_ip * b_pj;
      }
      T& out = c[i * ldc + j];
      out = alpha * sum + (beta == T(0) ? T(0) : beta * out);
    }
  }
}

template void naive_gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                const float*, int64_t, float, float*, int64_t);
template void naive_gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                 int64_t, const double*, int64_t, double, double*, int64_t);

void set_blas_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  openblas().set_num_threads(threads < 1 ? 1 : threads);
}

}  // namespace lstm
