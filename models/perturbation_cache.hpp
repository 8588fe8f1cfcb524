// A node's cache of perturbed weights. With shared seeds every client of a node evaluates the
// same K vectors W + sign sigma u_k in a round (same replica, same round seed), so the first
// client step to need one forms it and the others read it, instead of each regenerating K x n
// directions. The vectors are formed by exactly the code a client step without the cache runs
// (direction_set::add_scaled into a fresh buffer), so results are bit-identical on or off.
//
// Bounded: a generation (one key: replica, version, seed, sigma, scheme, options) holds at most
// max_bytes of vectors; directions beyond that are formed per client step as without the cache.
// A new key replaces the generation once no client step reads it any more (until then steps of
// the new key run without the cache), so one generation exists at a time and the node never holds
// more than max_bytes of perturbed weights. Perturbations are never sent anywhere; this is the only
// place they are stored in bulk (docs/architecture.md, invariant 3).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "models/directions.hpp"
#include "models/estimator.hpp"

namespace baffle {

/// What a generation's vectors depend on. `weights` (the replica's address) and `version` name the
/// weights; the rest the directions and their scale.
struct perturbation_key {
  const float* weights = nullptr;
  uint64_t version = 0;
  int64_t n = 0;
  uint64_t seed = 0;
  int k = 0;
  float sigma = 0.f;
  fd_scheme scheme{};
  estimator_options options{};
  bool operator==(const perturbation_key&) const = default;
};

/// The vectors of one key: slot s is direction s / 2 with sign + for even s and - for odd s (the
/// central scheme uses both, the forward scheme only the even slots). Slots fill on first use,
/// each exactly once, whichever thread asks first; the others wait for it.
class perturbation_generation {
 public:
  perturbation_generation(const perturbation_key& key, size_t max_bytes);
  perturbation_generation(const perturbation_generation&) = delete;
  perturbation_generation& operator=(const perturbation_generation&) = delete;

  const perturbation_key& key() const { return key_; }
  /// Whether direction k with this sign is held (within the byte bound).
  bool holds(int k, float sign) const { return slot(k, sign) < held_; }
  /// Whether every vector the step needs is held and already formed: the caller then needs no
  /// direction_set at all.
  bool complete() const;
  /// W + sign sigma u_k; `form(out)` writes it into `out` (n floats) the first time it is asked
  /// for. Only for holds(k, sign).
  std::span<const float> get(int k, float sign, const std::function<void(std::span<float>)>& form);
  /// Bytes of the vectors formed so far.
  size_t bytes() const;

 private:
  size_t slot(int k, float sign) const { return 2 * static_cast<size_t>(k) + (sign < 0 ? 1 : 0); }
  bool needed(size_t s) const;

  perturbation_key key_;
  size_t held_ = 0;  ///< slots 0 .. held_ - 1 are held (in slot order, within the bound)
  std::vector<std::vector<float>> vectors_;
  std::unique_ptr<std::once_flag[]> once_;
  std::unique_ptr<std::atomic<bool>[]> formed_;
};

/// One per node: hands out the generation of a key, starting a new one when the key changes.
/// max_bytes = 0 turns it off (acquire returns null).
class perturbation_cache {
 public:
  explicit perturbation_cache(size_t max_bytes) : max_bytes_(max_bytes) {}
  size_t max_bytes() const { return max_bytes_; }
  /// The generation of `key`; null when the cache is off, not one vector fits the bound, or the
  /// generation of another key is still being read (the caller then runs without the cache).
  std::shared_ptr<perturbation_generation> acquire(const perturbation_key& key);
  /// Generations started so far (a new key each), for tests and benchmarks.
  uint64_t generations() const;

 private:
  size_t max_bytes_;
  mutable std::mutex mutex_;
  std::shared_ptr<perturbation_generation> current_;
  uint64_t generations_ = 0;
};

}  // namespace baffle
