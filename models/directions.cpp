// Perturbation directions under the variance-reduction options: element-wise entries from Philox
// words, and the two things that need a whole vector (the sphere's norms, the orthogonal frame)
// from reductions over fixed chunks summed in chunk order, so no result depends on the threads.
#include "models/directions.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>

#include <tbb/parallel_for.h>

#include "models/compute.hpp"
#include "models/normal.hpp"

namespace baffle {
namespace {

/// Elements per reduction chunk: a norm or inner product is the sum, in chunk order, of per-chunk
/// double sums, whichever thread computed each chunk.
constexpr size_t reduce_chunk = 4096;
/// Elements per piece in the serial kernels, so their scratch buffers stay in L1.
constexpr size_t piece = 1024;
/// Lanes of the partial sums inside a chunk: independent accumulators the compiler can keep in
/// one vector register, combined in lane order (fixed, so still deterministic).
constexpr size_t lanes = 8;
/// Gram-Schmidt declares a direction dependent on the earlier ones (and sets it to zero) when
/// projecting them out leaves less than this share of its squared norm. Independent random
/// directions in n >> K dimensions keep about (n - k) / n of it.
constexpr double dependent_share = 1e-8;
constexpr uint32_t sign_bit = 0x80000000u;

size_t chunk_count(int64_t n) {
  return (static_cast<size_t>(n) + reduce_chunk - 1) / reduce_chunk;
}

/// Runs body(c, first, len) for every reduction chunk of [0, n), TBB-parallel in `arena`.
template <class Body>
void for_chunks(int64_t n, size_t tasks_per_chunk, tbb::task_arena& arena, const Body& body) {
  const size_t chunks = chunk_count(n);
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, chunks * tasks_per_chunk, [&](size_t t) {
      enter_compute_thread();
      const size_t c = t % chunks;
      const size_t first = c * reduce_chunk;
      body(t / chunks, c, first, std::min(reduce_chunk, static_cast<size_t>(n) - first));
    });
  });
}

/// sum_i a[i] b[i] in double, in a fixed order.
double dot(const float* a, const float* b, size_t len) {
  std::array<double, lanes> s{};
  size_t i = 0;
  for (; i + lanes <= len; i += lanes)
    for (size_t l = 0; l < lanes; ++l) s[l] += static_cast<double>(a[i + l]) * b[i + l];
  for (; i < len; ++i) s[0] += static_cast<double>(a[i]) * b[i];
  double total = 0;
  for (double x : s) total += x;
  return total;
}

/// The sum over chunks c, in order, of partial[c * stride + j].
double sum_chunks(const std::vector<double>& partial, size_t chunks, size_t stride, size_t j) {
  double total = 0;
  for (size_t c = 0; c < chunks; ++c) total += partial[c * stride + j];
  return total;
}

}  // namespace

uint64_t mask_threshold(double sparsity) {
  if (sparsity >= 1.0) return uint64_t{1} << 32;
  return static_cast<uint64_t>(std::llround(std::ldexp(sparsity, 32)));
}

direction_set::direction_set(uint64_t seed, int count, int64_t n, const estimator_options& options,
                             tbb::task_arena& arena)
    : seed_(seed),
      count_(count),
      n_(n),
      o_(options),
      threshold_(mask_threshold(options.sparsity)),
      mask_scale_(static_cast<float>(1.0 / std::sqrt(options.sparsity))) {
  assert(count >= 0 && n >= 0 && options.sparsity > 0.0 && options.sparsity <= 1.0);
  if (o_.orthogonal) {
    build_frame(arena);
    return;
  }
  switch (o_.distribution) {
    case direction_distribution::gaussian:
    case direction_distribution::rademacher:
      return;
    case direction_distribution::sphere:
      break;
  }
  // |base_k|^2 per (k, chunk), then per k in chunk order.
  const size_t chunks = chunk_count(n_);
  std::vector<double> partial(static_cast<size_t>(count_) * chunks);
  for_chunks(n_, static_cast<size_t>(count_), arena,
             [&](size_t k, size_t c, size_t first, size_t len) {
               std::array<float, reduce_chunk> buf;
               fill_base(static_cast<int>(k), first, std::span<float>(buf.data(), len));
               partial[c * count_ + k] = dot(buf.data(), buf.data(), len);
             });
  scale_.resize(count_);
  for (int k = 0; k < count_; ++k) {
    const double norm2 = sum_chunks(partial, chunks, count_, k);
    // An all-zero base (a mask that kept nothing) stays zero.
    scale_[k] = norm2 > 0 ? static_cast<float>(std::sqrt(static_cast<double>(n_) / norm2)) : 0.f;
  }
}

void direction_set::fill_base(int k, uint64_t first, std::span<float> out) const {
  const stream_id s = perturbation_stream(seed_, k);
  std::array<uint32_t, piece> words;
  for (size_t at = 0; at < out.size(); at += piece) {
    const size_t len = std::min(piece, out.size() - at);
    const std::span<float> dst = out.subspan(at, len);
    switch (o_.distribution) {
      case direction_distribution::gaussian:
      case direction_distribution::sphere:
        fill_normal(s, first + at, dst);
        break;
      case direction_distribution::rademacher:
        detail::fill_u32_fast(s, first + at, std::span<uint32_t>(words.data(), len));
        for (size_t j = 0; j < len; ++j) dst[j] = (words[j] & sign_bit) ? -1.f : 1.f;
        break;
    }
    if (o_.sparsity < 1.0) {
      detail::fill_u32_fast(perturbation_mask_stream(seed_), first + at,
                            std::span<uint32_t>(words.data(), len));
      for (size_t j = 0; j < len; ++j) dst[j] = words[j] < threshold_ ? dst[j] * mask_scale_ : 0.f;
    }
  }
}

void direction_set::fill(int k, uint64_t first, std::span<float> out) const {
  assert(k >= 0 && k < count_ && first + out.size() <= static_cast<uint64_t>(n_));
  if (o_.orthogonal) {
    const float* row = frame_.data() + static_cast<size_t>(k) * static_cast<size_t>(n_);
    std::copy(row + first, row + first + out.size(), out.begin());
    return;
  }
  fill_base(k, first, out);
  if (o_.distribution == direction_distribution::sphere) {
    const float f = scale_[k];
    for (float& x : out) x *= f;
  }
}

void direction_set::add_scaled(int k, float scale, std::span<const float> w,
                               std::span<float> out) const {
  assert(w.size() == out.size() && static_cast<int64_t>(w.size()) == n_);
  if (o_.plain_gaussian()) {
    add_scaled_normal(perturbation_stream(seed_, k), 0, scale, w, out);
    return;
  }
  std::array<float, piece> u;
  for (size_t at = 0; at < out.size(); at += piece) {
    const size_t len = std::min(piece, out.size() - at);
    fill(k, at, std::span<float>(u.data(), len));
    for (size_t j = 0; j < len; ++j) {
      const float step = scale * u[j];
      out[at + j] = w[at + j] + step;
    }
  }
}

void direction_set::accumulate(std::span<const int> ks, std::span<const float> coeffs,
                               uint64_t first, std::span<float> acc) const {
  assert(ks.size() == coeffs.size());
  std::array<float, piece> u;
  // Piece outer, direction inner: acc's piece stays in L1 across all directions, and every
  // element still sees the terms in order j = 0, 1, ...
  for (size_t at = 0; at < acc.size(); at += piece) {
    const size_t len = std::min(piece, acc.size() - at);
    float* dst = acc.data() + at;
    for (size_t j = 0; j < ks.size(); ++j) {
      fill(ks[j], first + at, std::span<float>(u.data(), len));
      const float c = coeffs[j];
      for (size_t i = 0; i < len; ++i) {
        const float step = c * u[i];
        dst[i] = dst[i] + step;
      }
    }
  }
}

void direction_set::build_frame(tbb::task_arena& arena) {
  const size_t n = static_cast<size_t>(n_);
  const size_t chunks = chunk_count(n_);
  frame_.assign(static_cast<size_t>(count_) * n, 0.f);
  std::vector<double> partial(chunks * std::max(count_, 1));
  std::vector<float> proj(count_);
  auto row_of = [&](int j) { return frame_.data() + static_cast<size_t>(j) * n; };
  // Squared norm of row k, by chunks.
  auto norm2 = [&](float* row) {
    for_chunks(n_, 1, arena, [&](size_t, size_t c, size_t first, size_t len) {
      partial[c] = dot(row + first, row + first, len);
    });
    return sum_chunks(partial, chunks, 1, 0);
  };
  for (int k = 0; k < count_; ++k) {
    float* row = row_of(k);
    for_chunks(n_, 1, arena, [&](size_t, size_t, size_t first, size_t len) {
      fill_base(k, first, std::span<float>(row + first, len));
    });
    const double before = norm2(row);
    // Classical Gram-Schmidt, twice ("twice is enough"): each pass takes all k inner products
    // with the earlier unit rows in one sweep, then subtracts the projections in order j = 0..k-1.
    for (int pass = 0; pass < 2 && k > 0; ++pass) {
      for_chunks(n_, 1, arena, [&](size_t, size_t c, size_t first, size_t len) {
        for (int j = 0; j < k; ++j) partial[c * k + j] = dot(row + first, row_of(j) + first, len);
      });
      for (int j = 0; j < k; ++j) proj[j] = static_cast<float>(sum_chunks(partial, chunks, k, j));
      for_chunks(n_, 1, arena, [&](size_t, size_t, size_t first, size_t len) {
        float* dst = row + first;
        for (int j = 0; j < k; ++j) {
          const float* q = row_of(j) + first;
          const float p = proj[j];
          for (size_t i = 0; i < len; ++i) {
            const float step = p * q[i];
            dst[i] = dst[i] - step;
          }
        }
      });
    }
    const double after = norm2(row);
    const float inv = after > dependent_share * before && after > 0
                          ? static_cast<float>(1.0 / std::sqrt(after))
                          : 0.f;
    for_chunks(n_, 1, arena, [&](size_t, size_t, size_t first, size_t len) {
      for (size_t i = 0; i < len; ++i) row[first + i] *= inv;
    });
  }
  // Unit rows to radius sqrt(n).
  const float radius = static_cast<float>(std::sqrt(static_cast<double>(n_)));
  for_chunks(n_, static_cast<size_t>(count_), arena,
             [&](size_t k, size_t, size_t first, size_t len) {
               float* row = row_of(static_cast<int>(k)) + first;
               for (size_t i = 0; i < len; ++i) row[i] *= radius;
             });
}

}  // namespace baffle
