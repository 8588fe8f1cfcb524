// Per-thread compute settings and the matrix product every network uses (oneDNN's sgemm).
#pragma once

#include <cstdint>
#include <string>

#include "models/precision.hpp"

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

/// The instruction set oneDNN runs its kernels with on this machine, as oneDNN names it in
/// ONEDNN_MAX_CPU_ISA ("avx512_core_amx", "avx512_core", ...). Low-precision results are
/// reproducible for one ISA, not across them.
std::string onednn_isa();

/// Whether oneDNN has native instructions for precision p here (bf16: avx512_bf16 or AMX; int8:
/// VNNI or AMX). Without them oneDNN still runs p, emulated, usually slower than f32.
bool onednn_native(forward_precision p);

}  // namespace baffle
