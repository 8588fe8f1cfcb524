// oneDNN sgemm behind a plain signature, and the per-thread floating-point environment.
#include "models/compute.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <xmmintrin.h>

#include <cassert>
#include <cstdlib>

namespace baffle {

void enter_compute_thread() {
  // FTZ (bit 15) and DAZ (bit 6) in MXCSR.
  _mm_setcsr(_mm_getcsr() | 0x8040);
  if (omp_get_max_threads() != 1) omp_set_num_threads(1);
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                                      lda, b, ldb, beta, c, ldc);
  // Only invalid arguments fail, which is a programming error.
  assert(st == dnnl_success);
  if (st != dnnl_success) std::abort();
}

}  // namespace baffle
