// Per-thread compute settings and the matrix product every network uses (oneDNN's sgemm).
#pragma once

#include <cstdint>

namespace baffle {

/// Call at the start of every compute task, on whatever thread runs it (TBB or CAF worker):
/// flushes subnormals to zero (FTZ/DAZ, the same on every thread so results do not depend on
/// which thread ran a task) and keeps oneDNN's OpenMP inside this task to one thread (the
/// parallelism is ours, one layer at a time, and a single-threaded sgemm sums in a fixed order).
void enter_compute_thread();

/// Row-major C(M,N) = alpha * op(A) * op(B) + beta * C, op = transpose when trans_x is true.
/// lda/ldb/ldc are the row strides of A, B and C as stored.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace baffle
