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

std::string onednn_isa() {
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
      return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic:
      return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    default:  // oneDNN's enum, not ours: newer versions add values
      return "unknown";
  }
}

bool onednn_native(forward_precision p) {
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  switch (p) {
    case forward_precision::f32:
      return true;
    case forward_precision::bf16:
      return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx;
    case forward_precision::int8:
      return isa == dnnl_cpu_isa_avx512_core_vnni || isa == dnnl_cpu_isa_avx512_core_bf16 ||
             isa == dnnl_cpu_isa_avx512_core_amx || isa == dnnl_cpu_isa_avx2_vnni;
  }
  return false;
}

}  // namespace baffle
