// Tests of the non-IID partitioners (Dirichlet label skew, label-sorted shards, quantity skew), the
// label histograms and the Dirichlet sampler, on a synthetic balanced data set built here. Bounds
// are checked over several seeds; every run draws the same numbers, so none of them needs luck.
#include "models/partition.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "models/dataset.hpp"
#include "models/philox.hpp"

namespace baffle {
namespace {

/// count 1x1 images with balanced labels (i * 7) mod 10, so classes interleave irregularly.
dataset balanced_set(int64_t count) {
  dataset d;
  d.count = count;
  d.rows = 1;
  d.cols = 1;
  d.num_classes = 10;
  d.pixels.assign(size_t(count), 0);
  d.labels.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) d.labels[size_t(i)] = uint8_t((i * 7) % 10);
  return d;
}

/// One partitioner under test, with its skew knob fixed.
struct named_partitioner {
  std::string name;
  std::function<partition(const dataset&, int clients, double validation_fraction, uint64_t seed)>
      split;
};

std::vector<named_partitioner> all_partitioners() {
  return {
      {"dirichlet(0.1)", [](const dataset& d, int c, double v,
                            uint64_t s) { return partition_dirichlet(d, c, v, 0.1, s); }},
      {"dirichlet(100)", [](const dataset& d, int c, double v,
                            uint64_t s) { return partition_dirichlet(d, c, v, 100.0, s); }},
      {"shards(2)", [](const dataset& d, int c, double v,
                       uint64_t s) { return partition_shards(d, c, v, 2, s); }},
      {"shards(5)", [](const dataset& d, int c, double v,
                       uint64_t s) { return partition_shards(d, c, v, 5, s); }},
      {"quantity(0.5)", [](const dataset& d, int c, double v,
                           uint64_t s) { return partition_quantity(d, c, v, 0.5, s); }},
      {"quantity(0.01)", [](const dataset& d, int c, double v,
                            uint64_t s) { return partition_quantity(d, c, v, 0.01, s); }},
  };
}

/// Validation and shards are each sorted, pairwise disjoint and together cover [0, n).
void expect_sorted_exact_cover(const partition& p, uint32_t n, const std::string& what) {
  std::vector<int> seen(n, 0);
  EXPECT_TRUE(std::is_sorted(p.validation.begin(), p.validation.end())) << what;
  for (uint32_t i : p.validation) ++seen.at(i);
  for (size_t c = 0; c < p.clients.size(); ++c) {
    EXPECT_TRUE(std::is_sorted(p.clients[c].begin(), p.clients[c].end()))
        << what << " client " << c;
    for (uint32_t i : p.clients[c]) ++seen.at(i);
  }
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(seen[i], 1) << what << ": index " << i << " held " << seen[i] << " times";
  }
}

/// Total variation distance between a client's label mix and the global one (0 = identical).
double distance_to_global(const std::vector<int64_t>& client, const std::vector<int64_t>& global) {
  const double n = double(std::accumulate(client.begin(), client.end(), int64_t(0)));
  const double g = double(std::accumulate(global.begin(), global.end(), int64_t(0)));
  double sum = 0;
  for (size_t k = 0; k < client.size(); ++k) sum += std::abs(client[k] / n - global[k] / g);
  return sum / 2;
}

/// How many of a client's most common labels it takes to cover 90% of its images.
int labels_covering_90_percent(std::vector<int64_t> histogram) {
  std::sort(histogram.rbegin(), histogram.rend());
  const int64_t total = std::accumulate(histogram.begin(), histogram.end(), int64_t(0));
  int64_t covered = 0;
  int labels = 0;
  while (covered * 10 < total * 9) covered += histogram[size_t(labels++)];
  return labels;
}

int distinct_labels(const std::vector<int64_t>& histogram) {
  return int(std::count_if(histogram.begin(), histogram.end(), [](int64_t x) { return x > 0; }));
}

/// Label counts of the non-validation images.
std::vector<int64_t> training_histogram(const dataset& d, const partition& p) {
  std::vector<int64_t> out(size_t(d.num_classes), 0);
  for (const auto& h : label_histograms(d, p)) {
    for (size_t k = 0; k < h.size(); ++k) out[k] += h[k];
  }
  return out;
}

TEST(NonIidPartitions, ShardsAreSortedDisjointAndCoverEveryIndex) {
  const dataset d = balanced_set(6000);
  for (const auto& part : all_partitioners()) {
    for (int clients : {1, 7, 20, 100}) {
      const partition p = part.split(d, clients, 0.1, 11);
      ASSERT_EQ(p.clients.size(), size_t(clients));
      expect_sorted_exact_cover(p, 6000, part.name + " with " + std::to_string(clients));
    }
  }
}

TEST(NonIidPartitions, ValidationIsPartitionIidsForTheSameSeedAndFraction) {
  const dataset d = balanced_set(6000);
  for (const auto& part : all_partitioners()) {
    for (double fraction : {0.0, 0.1, 0.25, 1.0}) {
      for (uint64_t seed : {1u, 2u, 99u}) {
        const partition iid = partition_iid(6000, 10, fraction, seed);
        const partition p = part.split(d, 10, fraction, seed);
        EXPECT_EQ(p.validation, iid.validation) << part.name << " fraction " << fraction;
      }
    }
  }
}

TEST(NonIidPartitions, SameSeedSameSplitOtherSeedOtherSplit) {
  const dataset d = balanced_set(6000);
  for (const auto& part : all_partitioners()) {
    const partition a = part.split(d, 10, 0.1, 7);
    const partition b = part.split(d, 10, 0.1, 7);
    const partition c = part.split(d, 10, 0.1, 8);
    EXPECT_EQ(a.validation, b.validation) << part.name;
    EXPECT_EQ(a.clients, b.clients) << part.name;
    EXPECT_NE(a.validation, c.validation) << part.name;
    EXPECT_NE(a.clients, c.clients) << part.name;
  }
}

TEST(NonIidPartitions, EveryClientHasAnImageWhenThereAreEnough) {
  for (const auto& part : all_partitioners()) {
    // 6000 images over 100 clients, and the tight case of exactly one image per client (100
    // images, no validation; shards(5) then has 500 shards, most of them empty).
    for (int64_t n : {6000, 100}) {
      const dataset d = balanced_set(n);
      for (uint64_t seed = 1; seed <= 5; ++seed) {
        const partition p = part.split(d, 100, n == 100 ? 0.0 : 0.1, seed);
        for (size_t c = 0; c < p.clients.size(); ++c) {
          EXPECT_FALSE(p.clients[c].empty()) << part.name << " n " << n << " client " << c;
        }
        expect_sorted_exact_cover(p, uint32_t(n), part.name);
      }
    }
  }
}

TEST(NonIidPartitions, FewerImagesThanClientsGiveOneImageToAsManyClientsAsPossible) {
  const dataset d = balanced_set(12);  // 9 training images after round(12 * 0.25) = 3 validation
  for (const auto& part : all_partitioners()) {
    const partition p = part.split(d, 16, 0.25, 3);
    const auto held = std::count_if(p.clients.begin(), p.clients.end(),
                                    [](const auto& shard) { return !shard.empty(); });
    EXPECT_EQ(held, 9) << part.name;
    expect_sorted_exact_cover(p, 12, part.name);
  }
}

TEST(PartitionDirichlet, LargeAlphaGivesEveryClientNearlyTheGlobalLabelMix) {
  const dataset d = balanced_set(6000);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const partition p = partition_dirichlet(d, 10, 0.1, 100.0, seed);
    const auto global = training_histogram(d, p);
    for (const auto& h : label_histograms(d, p)) {
      // Dir(100) over 10 clients: shares within about 10% of 1/10; seeds 1 to 20 stay below 0.065.
      EXPECT_LT(distance_to_global(h, global), 0.1) << "seed " << seed;
      EXPECT_EQ(distinct_labels(h), 10) << "seed " << seed;
    }
  }
}

TEST(PartitionDirichlet, SmallAlphaConcentratesEachClientOnFewLabels) {
  const dataset d = balanced_set(6000);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const auto mean_labels_for_90 = [&](const partition& p) {
      double sum = 0;
      for (const auto& h : label_histograms(d, p)) sum += labels_covering_90_percent(h);
      return sum / double(p.clients.size());
    };
    const double skewed = mean_labels_for_90(partition_dirichlet(d, 10, 0.1, 0.1, seed));
    const double iid = mean_labels_for_90(partition_iid(6000, 10, 0.1, seed));
    // Seeds 1 to 20 give 2.3 to 3.4 labels under Dir(0.1); IID needs 9 or 10.
    EXPECT_LE(skewed, 4.0) << "seed " << seed;
    EXPECT_GE(iid, 8.5) << "seed " << seed;
  }
}

TEST(PartitionShards, TwoShardsPerClientGiveEachClientAtMostAFewLabels) {
  const dataset d = balanced_set(6000);
  for (int clients : {20, 100}) {
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      const partition p = partition_shards(d, clients, 0.1, 2, seed);
      double sum = 0;
      for (const auto& h : label_histograms(d, p)) {
        // Shards are smaller than a class, so each spans at most two labels.
        EXPECT_LE(distinct_labels(h), 4) << clients << " clients, seed " << seed;
        sum += distinct_labels(h);
      }
      // Seeds 1 to 20 average 2.2 to 2.4: only shards straddling a class boundary add a label.
      EXPECT_LE(sum / clients, 3.0) << clients << " clients, seed " << seed;
    }
  }
}

TEST(PartitionShards, ClientSizesDifferByAtMostTheShardCount) {
  const dataset d = balanced_set(6000);
  const partition p = partition_shards(d, 13, 0.1, 3, 4);  // 5400 images, 39 shards of 138-139
  size_t smallest = SIZE_MAX, largest = 0;
  for (const auto& shard : p.clients) {
    smallest = std::min(smallest, shard.size());
    largest = std::max(largest, shard.size());
  }
  EXPECT_GE(smallest, 3u * (5400 / 39));
  EXPECT_LE(largest, 3u * (5400 / 39 + 1));
}

TEST(PartitionQuantity, SizesAreUnequalButEachLabelMixIsNearlyGlobal) {
  const dataset d = balanced_set(6000);
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const partition p = partition_quantity(d, 10, 0.1, 0.5, seed);
    const auto global = training_histogram(d, p);
    const auto histograms = label_histograms(d, p);
    size_t smallest = SIZE_MAX, largest = 0;
    for (size_t c = 0; c < p.clients.size(); ++c) {
      smallest = std::min(smallest, p.clients[c].size());
      largest = std::max(largest, p.clients[c].size());
      // Sampling noise alone: about 1.2 / sqrt(size) in total variation.
      if (p.clients[c].size() >= 300) {
        EXPECT_LT(distance_to_global(histograms[c], global), 0.15) << "seed " << seed;
      }
    }
    EXPECT_GE(largest, 3 * smallest) << "seed " << seed;
  }
}

TEST(PartitionQuantity, LargeAlphaGivesNearlyEqualSizes) {
  const dataset d = balanced_set(6000);
  const partition p = partition_quantity(d, 10, 0.1, 10000.0, 5);
  for (const auto& shard : p.clients) {
    EXPECT_NEAR(double(shard.size()), 540.0, 30.0);  // Dir(10^4): shares within about 3%
  }
}

TEST(LabelHistograms, CountsMatchShardLabelsAndSumToShardSizes) {
  const dataset d = balanced_set(6000);
  const partition p = partition_dirichlet(d, 8, 0.2, 0.5, 21);
  const auto histograms = label_histograms(d, p);
  ASSERT_EQ(histograms.size(), p.clients.size());
  std::vector<int64_t> per_label(10, 0);
  for (size_t c = 0; c < p.clients.size(); ++c) {
    ASSERT_EQ(histograms[c].size(), 10u);
    EXPECT_EQ(std::accumulate(histograms[c].begin(), histograms[c].end(), int64_t(0)),
              int64_t(p.clients[c].size()));
    std::vector<int64_t> expected(10, 0);
    for (uint32_t i : p.clients[c]) ++expected[d.labels[i]];
    EXPECT_EQ(histograms[c], expected);
    for (size_t k = 0; k < 10; ++k) per_label[k] += histograms[c][k];
  }
  for (uint32_t i : p.validation) ++per_label[d.labels[i]];
  EXPECT_EQ(per_label, std::vector<int64_t>(10, 600));  // every image counted once
}

TEST(SampleDirichlet, ProportionsHaveTheDirichletMeanAndVariance) {
  constexpr int k = 4;
  constexpr int draws = 4000;
  for (double alpha : {0.05, 0.3, 1.0, 2.5, 20.0}) {
    double sum = 0, squares = 0;
    for (uint32_t i = 0; i < draws; ++i) {
      const auto p = sample_dirichlet(stream_id{17, purpose::partition, i}, k, alpha);
      ASSERT_EQ(p.size(), size_t(k));
      double total = 0;
      for (double x : p) {
        ASSERT_GE(x, 0.0);
        total += x;
        sum += x;
        squares += x * x;
      }
      ASSERT_NEAR(total, 1.0, 1e-12);
    }
    const double n = double(k) * draws;
    const double mean = sum / n;
    const double variance = squares / n - mean * mean;
    // Dir(alpha): each component has mean 1/k and variance (1/k)(1 - 1/k) / (k alpha + 1).
    const double expected = (1.0 / k) * (1.0 - 1.0 / k) / (k * alpha + 1.0);
    EXPECT_NEAR(mean, 1.0 / k, 1e-12) << "alpha " << alpha;  // proportions sum to 1 exactly
    EXPECT_NEAR(variance / expected, 1.0, 0.05) << "alpha " << alpha;
  }
}

TEST(SampleDirichlet, TinyAlphaPutsNearlyAllMassOnOneComponentWithoutUnderflow) {
  const auto p = sample_dirichlet(stream_id{3, purpose::partition, 0}, 10, 1e-3);
  double total = 0;
  for (double x : p) {
    EXPECT_TRUE(std::isfinite(x));
    total += x;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_GT(*std::max_element(p.begin(), p.end()), 0.99);
}

TEST(SampleDirichlet, SameStreamSameDrawOtherStreamOtherDraw) {
  const stream_id a{5, purpose::partition, 1};
  const stream_id b{5, purpose::partition, 2};
  EXPECT_EQ(sample_dirichlet(a, 6, 0.7), sample_dirichlet(a, 6, 0.7));
  EXPECT_NE(sample_dirichlet(a, 6, 0.7), sample_dirichlet(b, 6, 0.7));
}

}  // namespace
}  // namespace baffle
