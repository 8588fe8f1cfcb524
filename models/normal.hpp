// N(0,1) float streams on top of Philox4x32-10: the perturbations eps_k that every client rebuilds
// from a seed. A fast AVX-512 path and a scalar fallback give identical bits; both are checked
// against a Random123 reference, and any slice of a stream equals the same slice of a longer call.
#pragma once

#include <cstdint>
#include <span>

#include "models/philox.hpp"

namespace baffle {

// Element mapping (fixed: changing it changes every experiment's results).
// Element i of stream s comes from Philox block b = i / 4 (see philox_block), words (w0, w1, w2,
// w3):
//   element 4b     = x(w0, w1),  element 4b + 1 = y(w0, w1),
//   element 4b + 2 = x(w2, w3),  element 4b + 3 = y(w2, w3),
// as Random123's boxmuller(u0, u1) computes them:
//   a = uneg11<float>(u0) = float(int32(u0)) * 2^-31 + 2^-32        (exact float ops, no FMA)
//   u = u01<float>(u1)    = float(uint32(u1)) * 2^-32 + 2^-33
//   r = sqrt(-2 log u),   x = r * sin(pi_f * a),   y = r * cos(pi_f * a)   (pi_f * a rounded to
//   float)
// The fast path evaluates log, sin and cos with its own polynomials (within a few ulp of libm), so
// its bits differ slightly from fill_normal_reference but never between machines or slicings.

/// out[i] = N(0,1) element (first + i) of stream s (fast path; bit-reproducible everywhere).
void fill_normal(const stream_id& s, uint64_t first, std::span<float> out);

/// The reference: Random123 Philox4x32 + r123::boxmuller (Random123/boxmuller.hpp), no fast path.
/// About 10x slower than fill_normal and its last bits follow the platform's libm; use it in tests.
void fill_normal_reference(const stream_id& s, uint64_t first, std::span<float> out);

/// out[i] = w[i] + scale * eps[first + i]   (w and out same size; may alias exactly, i.e. be the
/// same span, but must not partially overlap). One float multiply, then one float add.
void add_scaled_normal(const stream_id& s, uint64_t first, float scale, std::span<const float> w,
                       std::span<float> out);

/// acc[i] += coeff * eps[first + i]   (one float multiply, then one float add).
void axpy_normal(const stream_id& s, uint64_t first, float coeff, std::span<float> acc);

/// acc[i] += sum over j in order 0..n-1 of coeffs[j] * eps_{streams[j]}[first + i], accumulated
/// into acc term by term: bit-identical to axpy_normal(streams[j], first, coeffs[j], acc) for
/// j = 0, 1, ..., n-1 (so with acc zeroed it is the plain ordered sum). streams and coeffs have the
/// same size. A serial kernel: the caller parallelises over chunks of i; it works in cache-sized
/// chunks internally so each eps block is used while it is in L1.
void accumulate_normals(std::span<const stream_id> streams, std::span<const float> coeffs,
                        uint64_t first, std::span<float> acc);

namespace detail {

/// The portable scalar path of fill_normal: bit-identical to the AVX-512 path (tests compare them).
void fill_normal_scalar(const stream_id& s, uint64_t first, std::span<float> out);

/// out[i] = word (first + i) of stream s from the fast (AVX-512 when available) Philox; equals
/// fill_u32 bit for bit. Exposed so tests can check the vector Philox on its own.
void fill_u32_fast(const stream_id& s, uint64_t first, std::span<uint32_t> out);

}  // namespace detail

}  // namespace baffle
