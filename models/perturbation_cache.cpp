// A node's bounded cache of perturbed weights (see the header).
#include "models/perturbation_cache.hpp"

#include <algorithm>

namespace baffle {

perturbation_generation::perturbation_generation(const perturbation_key& key, size_t max_bytes)
    : key_(key) {
  const size_t slots = 2 * static_cast<size_t>(std::max(key.k, 0));
  const size_t vector_bytes = static_cast<size_t>(std::max<int64_t>(key.n, 1)) * sizeof(float);
  const size_t fit = max_bytes / vector_bytes;
  // The forward scheme needs only the + slots (even), the central scheme both.
  held_ = std::min(slots, key.scheme == fd_scheme::forward ? 2 * fit : fit);
  vectors_.resize(held_);
  once_ = std::make_unique<std::once_flag[]>(held_);
  formed_ = std::make_unique<std::atomic<bool>[]>(held_);
  for (size_t s = 0; s < held_; ++s) formed_[s].store(false, std::memory_order_relaxed);
}

bool perturbation_generation::needed(size_t s) const {
  return key_.scheme != fd_scheme::forward || s % 2 == 0;
}

bool perturbation_generation::complete() const {
  const size_t slots = 2 * static_cast<size_t>(std::max(key_.k, 0));
  for (size_t s = 0; s < slots; ++s) {
    if (!needed(s)) continue;
    if (s >= held_ || !formed_[s].load(std::memory_order_acquire)) return false;
  }
  return true;
}

std::span<const float> perturbation_generation::get(
    int k, float sign, const std::function<void(std::span<float>)>& form) {
  const size_t s = slot(k, sign);
  std::call_once(once_[s], [&] {
    std::vector<float> v(static_cast<size_t>(key_.n));
    form(v);
    vectors_[s] = std::move(v);
    formed_[s].store(true, std::memory_order_release);
  });
  return vectors_[s];
}

size_t perturbation_generation::bytes() const {
  size_t total = 0;
  for (size_t s = 0; s < held_; ++s)
    if (formed_[s].load(std::memory_order_acquire)) total += vectors_[s].size() * sizeof(float);
  return total;
}

std::shared_ptr<perturbation_generation> perturbation_cache::acquire(const perturbation_key& key) {
  if (max_bytes_ == 0 || key.k <= 0 || key.n <= 0 ||
      max_bytes_ < static_cast<size_t>(key.n) * sizeof(float))
    return nullptr;
  std::lock_guard lock(mutex_);
  if (current_ && current_->key() == key) return current_;
  // Another key (a new version or round, or async dispatches with seeds of their own): replace
  // the generation only once no step reads it, so one generation at most exists and the bound
  // holds; until then this step forms its vectors itself, as without the cache.
  if (current_ && current_.use_count() > 1) return nullptr;
  current_ = std::make_shared<perturbation_generation>(key, max_bytes_);
  ++generations_;
  return current_;
}

uint64_t perturbation_cache::generations() const {
  std::lock_guard lock(mutex_);
  return generations_;
}

}  // namespace baffle
