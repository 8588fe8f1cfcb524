// The K perturbation directions u_k of a seed under the estimator's variance-reduction options
// (entry distribution, orthogonalisation, sparsity), one definition used by the clients that
// perturb weights along them and by the server that rebuilds the gradient from them.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <tbb/task_arena.h>

#include "models/enum_names.hpp"
#include "models/philox.hpp"

namespace baffle {

/// The entries of a direction before orthogonalisation: N(0, 1); +-1 with equal odds; or
/// Gaussian scaled onto the sphere of radius sqrt(n).
enum class direction_distribution : uint8_t { gaussian = 0, rademacher = 1, sphere = 2 };

template <>
struct enum_names<direction_distribution> {
  static constexpr std::array<std::pair<direction_distribution, std::string_view>, 3> table = {{
      {direction_distribution::gaussian, "gaussian"},
      {direction_distribution::rademacher, "rademacher"},
      {direction_distribution::sphere, "sphere"},
  }};
};

/// A control variate on the K loss differences: none, or their mean over k subtracted.
enum class loss_baseline : uint8_t { none = 0, mean = 1 };

template <>
struct enum_names<loss_baseline> {
  static constexpr std::array<std::pair<loss_baseline, std::string_view>, 2> table = {{
      {loss_baseline::none, "none"},
      {loss_baseline::mean, "mean"},
  }};
};

/// The estimator's variance-reduction options (docs/algorithm.md, "Perturbation directions").
/// The defaults are the plain Gaussian estimator, bit for bit.
struct estimator_options {
  direction_distribution distribution = direction_distribution::gaussian;
  bool orthogonal = false;  ///< Gram-Schmidt over the K directions of a seed
  double sparsity = 1.0;    ///< fraction p in (0, 1] of the parameters perturbed (1 = all)
  loss_baseline baseline = loss_baseline::none;  ///< applied to the client's scalars

  /// Independent N(0, I) directions, element by element from their streams (the original).
  bool plain_gaussian() const {
    return distribution == direction_distribution::gaussian && !orthogonal && sparsity >= 1.0;
  }
  bool operator==(const estimator_options&) const = default;
};

/// Most floats an orthogonal direction set may hold (K x n): 4 GB. Orthogonalising needs all K
/// directions of a seed at once; the loader refuses scenarios above this.
inline constexpr double max_orthogonal_floats = 1e9;

/// The stream of direction k of a seed: its Philox words give the Gaussian or Rademacher entries.
inline stream_id perturbation_stream(uint64_t seed, int k) {
  return stream_id{seed, purpose::perturbation, static_cast<uint32_t>(k)};
}

/// The stream whose word i decides whether parameter i is perturbed under baffle.sparsity.
inline stream_id perturbation_mask_stream(uint64_t seed) {
  return stream_id{seed, purpose::perturbation_mask, 0};
}

/// Whether parameter i is perturbed under sparsity p: word i of the mask stream is below
/// p x 2^32, so the fraction perturbed is p in expectation (exactly mask_threshold(p) / 2^32).
uint64_t mask_threshold(double sparsity);

/// The first `count` directions u_0 .. u_{count-1} of `seed` for n parameters. Element i of u_k:
///   base_k[i] = m_i e_k[i] / sqrt(p),  e_k[i] = N(0, 1) or +-1 from word(s) i of stream (seed, k),
///               m_i = [mask word i < p 2^32] (m_i = 1 and no division when p = 1);
///   gaussian, rademacher: u_k = base_k;  sphere: u_k = sqrt(n) base_k / |base_k|;
///   orthogonal: u_k = sqrt(n) q_k, q_0 .. q_{count-1} the Gram-Schmidt orthonormalisation of
///               base_0, base_1, ... in that order (so u_k depends only on base_0 .. base_k).
/// Every entry has E[u u^T] = I over the seed (the mask included), so Stein's estimate keeps its
/// form. Element-wise options regenerate any slice on any thread; the sphere holds its `count`
/// norms, the orthogonal set its count x n floats. Norms and inner products are sums of fixed
/// 4096-element chunks in chunk order: the bits do not depend on the arena's thread count.
class direction_set {
 public:
  direction_set(uint64_t seed, int count, int64_t n, const estimator_options& options,
                tbb::task_arena& arena);

  int count() const { return count_; }
  int64_t size() const { return n_; }

  /// out[i] = u_k[first + i].
  void fill(int k, uint64_t first, std::span<float> out) const;

  /// out = w + scale * u_k over the whole vector (w, out of size n; may be the same span). For
  /// plain Gaussian directions exactly add_scaled_normal on stream (seed, k).
  void add_scaled(int k, float scale, std::span<const float> w, std::span<float> out) const;

  /// acc[i] += sum_j coeffs[j] u_{ks[j]}[first + i], j ascending, term by term (serial kernel).
  void accumulate(std::span<const int> ks, std::span<const float> coeffs, uint64_t first,
                  std::span<float> acc) const;

 private:
  /// out[i] = base_k[first + i] (before the sphere's scale and orthogonalisation).
  void fill_base(int k, uint64_t first, std::span<float> out) const;
  void build_frame(tbb::task_arena& arena);

  uint64_t seed_;
  int count_;
  int64_t n_;
  estimator_options o_;
  uint64_t threshold_;        ///< mask_threshold(p)
  float mask_scale_;          ///< 1 / sqrt(p)
  std::vector<float> scale_;  ///< sphere: sqrt(n) / |base_k| per k
  std::vector<float> frame_;  ///< orthogonal: (count, n), row k = u_k
};

}  // namespace baffle
