// Non-IID partitioners on top of partition_iid's validation split. All randomness is Philox
// (purpose::partition) consumed through explicit draw counters, so any process recomputes the same
// shards from (data set, arguments, seed).
#include "models/partition.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>

namespace baffle {
namespace {

// Stream ids under purpose::partition. 0 is partition_iid's permutation (the validation set);
// the others are ours: kind << 16 | index, with index a class (< 2^16) or a fixed slot.
constexpr uint32_t dirichlet_class_order = 1u << 16;        // | class: shuffle of its images
constexpr uint32_t dirichlet_class_proportions = 2u << 16;  // | class: Dir(alpha) over clients
constexpr uint32_t shards_image_order = 3u << 16;           // shuffle before the label sort
constexpr uint32_t shards_deal = (3u << 16) | 1;            // permutation of shard ids
constexpr uint32_t quantity_image_order = 4u << 16;         // shuffle of all non-validation
constexpr uint32_t quantity_sizes = (4u << 16) | 1;         // Dir(alpha) over clients

stream_id partition_stream(uint64_t seed, uint32_t id) {
  return stream_id{seed, purpose::partition, id};
}

/// Consecutive uniform01 draws of one stream: rejection sampling uses a data-dependent number.
class uniform_draws {
 public:
  explicit uniform_draws(const stream_id& s) : s_(s) {}
  /// Uniform in [0, 1).
  double next() { return uniform01(s_, next_++); }
  /// Uniform in (0, 1]: safe under log.
  double next_positive() { return 1.0 - next(); }

 private:
  stream_id s_;
  uint64_t next_ = 0;
};

/// N(0, 1) by Box-Muller in double; the sine twin is dropped to keep one normal per two draws.
double normal(uniform_draws& u) {
  const double radius = std::sqrt(-2.0 * std::log(u.next_positive()));
  return radius * std::cos(2.0 * std::numbers::pi * u.next());
}

/// log of a Gamma(alpha, 1) draw, alpha >= 1, by Marsaglia-Tsang (ACM TOMS 26(3), 2000).
double log_gamma_at_least_one(double alpha, uniform_draws& u) {
  assert(alpha >= 1);
  const double d = alpha - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = normal(u);
    double v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const double w = u.next_positive();
    const double x2 = x * x;
    if (w < 1.0 - 0.0331 * x2 * x2 || std::log(w) < 0.5 * x2 + d * (1.0 - v + std::log(v))) {
      return std::log(d) + std::log(v);
    }
  }
}

/// log of a Gamma(alpha, 1) draw, alpha > 0. Below 1 the boost trick: Gamma(alpha + 1) *
/// u^(1/alpha), kept in logs because u^(1/alpha) underflows for small alpha.
double log_gamma(double alpha, uniform_draws& u) {
  assert(alpha > 0);
  if (alpha >= 1) return log_gamma_at_least_one(alpha, u);
  const double g = log_gamma_at_least_one(alpha + 1.0, u);
  return g + std::log(u.next_positive()) / alpha;
}

/// Splits `total` items into proportions.size() consecutive runs: run i ends at
/// round(total * (p_0 + ... + p_i)), the last at total. Cumulative rounding never loses an item
/// and gives every run within one of its exact share.
std::vector<size_t> apportion(size_t total, const std::vector<double>& proportions) {
  std::vector<size_t> sizes(proportions.size(), 0);
  double cumulative = 0;
  size_t begin = 0;
  for (size_t i = 0; i < proportions.size(); ++i) {
    cumulative += proportions[i];
    size_t end =
        i + 1 == proportions.size()
            ? total
            : size_t(std::clamp(std::round(cumulative * double(total)), 0.0, double(total)));
    end = std::max(end, begin);
    sizes[i] = end - begin;
    begin = end;
  }
  return sizes;
}

/// partition_iid's validation set and the remaining indices, ascending.
struct validation_split {
  std::vector<uint32_t> validation;
  std::vector<uint32_t> rest;
};

validation_split split_validation(const dataset& d, double validation_fraction, uint64_t seed) {
  assert(d.count >= 0 && d.count <= int64_t(UINT32_MAX));
  assert(d.labels.size() == size_t(d.count));
  // Reusing partition_iid with one client makes the validation set identical by construction.
  partition iid = partition_iid(uint32_t(d.count), 1, validation_fraction, seed);
  return {std::move(iid.validation), std::move(iid.clients[0])};
}

/// Sorts every shard and gives each empty client one image (see the header for the rule).
partition finish(std::vector<uint32_t> validation, std::vector<std::vector<uint32_t>> clients) {
  for (auto& shard : clients) std::sort(shard.begin(), shard.end());
  for (auto& shard : clients) {
    if (!shard.empty()) continue;
    auto donor = std::max_element(clients.begin(), clients.end(),
                                  [](const auto& a, const auto& b) { return a.size() < b.size(); });
    if (donor->size() < 2) break;    // fewer images than clients: nothing left to spare
    shard.push_back(donor->back());  // the donor stays sorted; one element is sorted
    donor->pop_back();
  }
  return partition{std::move(validation), std::move(clients)};
}

}  // namespace

std::vector<double> sample_dirichlet(const stream_id& s, int k, double alpha) {
  assert(k >= 1);
  assert(alpha > 0);
  uniform_draws u(s);
  std::vector<double> p(static_cast<size_t>(k));
  for (double& x : p) x = log_gamma(alpha, u);
  const double top = *std::max_element(p.begin(), p.end());
  double sum = 0;
  for (double& x : p) {
    x = std::exp(x - top);  // the largest becomes 1, so the sum is at least 1
    sum += x;
  }
  for (double& x : p) x /= sum;
  return p;
}

partition partition_dirichlet(const dataset& d, int clients, double validation_fraction,
                              double alpha, uint64_t seed) {
  assert(clients > 0);
  assert(alpha > 0);
  assert(d.num_classes > 0 && d.num_classes < (1 << 16));
  validation_split split = split_validation(d, validation_fraction, seed);

  std::vector<std::vector<uint32_t>> by_class(static_cast<size_t>(d.num_classes));
  for (uint32_t i : split.rest) {
    assert(d.labels[i] < d.num_classes);
    by_class[d.labels[i]].push_back(i);
  }
  std::vector<std::vector<uint32_t>> shards(static_cast<size_t>(clients));
  for (uint32_t k = 0; k < uint32_t(d.num_classes); ++k) {
    std::vector<uint32_t>& images = by_class[k];
    // Drawn even for an empty class, so a class's streams never depend on other classes.
    const std::vector<double> proportions =
        sample_dirichlet(partition_stream(seed, dirichlet_class_proportions | k), clients, alpha);
    shuffle(images, partition_stream(seed, dirichlet_class_order | k));
    const std::vector<size_t> sizes = apportion(images.size(), proportions);
    size_t at = 0;
    for (size_t c = 0; c < sizes.size(); ++c) {
      shards[c].insert(shards[c].end(), images.begin() + at, images.begin() + at + sizes[c]);
      at += sizes[c];
    }
  }
  return finish(std::move(split.validation), std::move(shards));
}

partition partition_shards(const dataset& d, int clients, double validation_fraction,
                           int shards_per_client, uint64_t seed) {
  assert(clients > 0);
  assert(shards_per_client > 0);
  validation_split split = split_validation(d, validation_fraction, seed);

  // Shuffle, then a stable sort by label: label-sorted, in random order within each label.
  std::vector<uint32_t> images = std::move(split.rest);
  shuffle(images, partition_stream(seed, shards_image_order));
  std::stable_sort(images.begin(), images.end(),
                   [&](uint32_t a, uint32_t b) { return d.labels[a] < d.labels[b]; });

  const size_t count = size_t(clients) * size_t(shards_per_client);
  std::vector<uint32_t> deal(count);
  for (size_t s = 0; s < count; ++s) deal[s] = uint32_t(s);
  shuffle(deal, partition_stream(seed, shards_deal));

  // Shard s is images[s * m / count, (s + 1) * m / count).
  const size_t m = images.size();
  std::vector<std::vector<uint32_t>> shards(static_cast<size_t>(clients));
  for (size_t c = 0; c < size_t(clients); ++c) {
    for (size_t j = 0; j < size_t(shards_per_client); ++j) {
      const size_t s = deal[c * size_t(shards_per_client) + j];
      const size_t begin = s * m / count;
      const size_t end = (s + 1) * m / count;
      shards[c].insert(shards[c].end(), images.begin() + begin, images.begin() + end);
    }
  }
  return finish(std::move(split.validation), std::move(shards));
}

partition partition_quantity(const dataset& d, int clients, double validation_fraction,
                             double alpha, uint64_t seed) {
  assert(clients > 0);
  assert(alpha > 0);
  validation_split split = split_validation(d, validation_fraction, seed);

  std::vector<uint32_t> images = std::move(split.rest);
  shuffle(images, partition_stream(seed, quantity_image_order));
  const std::vector<double> proportions =
      sample_dirichlet(partition_stream(seed, quantity_sizes), clients, alpha);
  const std::vector<size_t> sizes = apportion(images.size(), proportions);

  std::vector<std::vector<uint32_t>> shards(static_cast<size_t>(clients));
  size_t at = 0;
  for (size_t c = 0; c < sizes.size(); ++c) {
    shards[c].assign(images.begin() + at, images.begin() + at + sizes[c]);
    at += sizes[c];
  }
  return finish(std::move(split.validation), std::move(shards));
}

std::vector<std::vector<int64_t>> label_histograms(const dataset& d, const partition& p) {
  std::vector<std::vector<int64_t>> out(p.clients.size(),
                                        std::vector<int64_t>(size_t(d.num_classes), 0));
  for (size_t c = 0; c < p.clients.size(); ++c) {
    for (uint32_t i : p.clients[c]) {
      assert(int64_t(i) < d.count);
      assert(d.labels[i] < d.num_classes);
      ++out[c][d.labels[i]];
    }
  }
  return out;
}

}  // namespace baffle
