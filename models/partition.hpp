// Non-IID splits of a training set into clients: Dirichlet label skew, label-sorted shards and
// quantity skew, plus per-client label histograms. Each keeps partition_iid's validation set for
// the same seed and fraction, so switching partitioner never changes what the server validates on.
#pragma once

#include <cstdint>
#include <vector>

#include "models/dataset.hpp"
#include "models/philox.hpp"

namespace baffle {

// Conventions shared by every partitioner here (and with partition_iid):
//  - validation = partition_iid(n, 1, validation_fraction, seed).validation, i.e. the first
//    round(n * validation_fraction) of the permutation of stream {seed, partition, 0};
//  - every shard is sorted ascending; shards are disjoint and cover every non-validation index;
//  - every draw comes from Philox streams {seed, purpose::partition, id} with id != 0 (ids listed
//    in partition.cpp), so the result is a pure function of the arguments;
//  - every client ends up with at least one image whenever the non-validation images number at
//    least `clients`: while some client is empty (lowest id first), the largest client (lowest
//    id among equals) gives it its largest index, as long as that donor keeps at least one.

/// Dirichlet label skew (Hsu et al. 2019): for each class, proportions over clients ~ Dir(alpha);
/// smaller alpha = more skew. Each class's non-validation images are shuffled, then cut into
/// consecutive runs of sizes round(cumulative proportion * class size). alpha > 0.
partition partition_dirichlet(const dataset& d, int clients, double validation_fraction,
                              double alpha, uint64_t seed);

/// Shards (McMahan et al. 2017): sort the non-validation images by label (shuffled within a
/// label), cut into clients * shards_per_client shards of near-equal size (differing by at most
/// 1), deal shards_per_client random shards to each client. shards_per_client > 0.
partition partition_shards(const dataset& d, int clients, double validation_fraction,
                           int shards_per_client, uint64_t seed);

/// Quantity skew: IID labels, client sizes proportional to Dir(alpha) draws (at least one image
/// each where possible, by the shared re-balancing rule). The shuffled non-validation images are
/// cut into consecutive runs of those sizes. alpha > 0.
partition partition_quantity(const dataset& d, int clients, double validation_fraction,
                             double alpha, uint64_t seed);

/// Per-client label histograms: out[c][label] = count (for clients.csv); out[c] has
/// d.num_classes entries.
std::vector<std::vector<int64_t>> label_histograms(const dataset& d, const partition& p);

/// A symmetric Dirichlet draw: k >= 1 proportions summing to 1, ~ Dir(alpha, ..., alpha), alpha >
/// 0, from stream s (draws 0, 1, ... of s; the count used depends on rejections). Each component
/// is a Gamma(alpha, 1) draw by Marsaglia-Tsang (2000) with a Box-Muller normal, all in double;
/// for alpha < 1, Gamma(alpha + 1) * u^(1/alpha). Normalised in log space, so tiny alpha cannot
/// underflow to all zeros. Bits follow the platform's libm (log, exp, cos, sqrt, pow).
std::vector<double> sample_dirichlet(const stream_id& s, int k, double alpha);

}  // namespace baffle
