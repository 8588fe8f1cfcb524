// Image classification data sets in memory (bytes, as stored), MNIST-format folder loading,
// pixel normalisation, and the seeded splits of training data into clients and minibatches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "models/result.hpp"

namespace baffle {

/// Images as bytes plus labels; features() = rows * cols.
struct dataset {
  int64_t count = 0;
  int rows = 0;
  int cols = 0;
  int num_classes = 10;
  int channels = 1;             ///< colour planes per image (3 for CIFAR-10), stored channels-first
  std::vector<uint8_t> pixels;  // (count, channels, rows, cols)
  std::vector<uint8_t> labels;  // (count)
  /// Bytes (and network inputs) per image: channels * rows * cols.
  int64_t features() const { return int64_t(channels) * rows * cols; }
};

/// A training set and its test set.
struct train_test {
  dataset train;
  dataset test;
};

/// Loads an MNIST-format folder: train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally with .gz. subset > 0 keeps the
/// first N. If the folder or a file is missing: an error naming what was looked for and, when the
/// folder is /usr/share/datasets/fashion-mnist, that `apt-get install dataset-fashion-mnist` (or
/// tools/setup) provides it. Checks image/label counts agree and labels < num_classes.
result<train_test> load_mnist_folder(const std::string& dir, int64_t train_subset,
                                     int64_t test_subset);

/// Pixel normalisation: x = (pixel / 255 - mean) / stddev, with mean/stddev measured on a data set
/// (computed in double, deterministic).
struct normalization {
  float mean = 0.f;
  float stddev = 1.f;
};

/// Asks the kernel to back d's pixels with 2 MB pages where it can (madvise MADV_HUGEPAGE, then
/// MADV_COLLAPSE on Linux 6.1 or later; both best effort, nothing changes if refused). Clients
/// read a few random images each: with 4 KB pages most reads of a large set also miss the TLB.
void prefer_huge_pages(const dataset& d);

/// Mean and population standard deviation of pixel / 255 over all pixels of d. An empty or
/// constant set gives stddev 1, so normalising never divides by zero.
normalization measure_normalization(const dataset& d);

/// x: (indices.size(), features) row-major floats; y: (indices.size()) labels as int32.
/// x[i][j] = (float(pixel) / 255.f - norm.mean) / norm.stddev, evaluated in float.
void gather_batch(const dataset& d, std::span<const uint32_t> indices, const normalization& norm,
                  std::span<float> x, std::span<int32_t> y);

/// Which training images each client holds, and the held-out validation images.
struct partition {
  std::vector<uint32_t> validation;            // sorted ascending
  std::vector<std::vector<uint32_t>> clients;  // one shard per client, each sorted ascending
};

/// IID: a seeded permutation of [0, n); the first round(n * validation_fraction) go to validation,
/// the rest are dealt into `clients` shards of near-equal size (sizes differ by at most 1). Each
/// shard sorted ascending. Deterministic in seed (stream_id{seed, purpose::partition, 0}).
partition partition_iid(uint32_t n, int clients, double validation_fraction, uint64_t seed);

/// The minibatch of `client` in `round`: epoch-style walk through a fresh seeded permutation of
/// the shard per local epoch; round r uses positions r*batch .. r*batch+batch-1 of the
/// concatenated permutations (epoch e = position / shard.size() uses
/// stream_id{derive_seed(seed, purpose::minibatch, client), purpose::minibatch, uint32_t(e)}).
/// Returns dataset indices (from the shard). batch is capped at shard.size(). Deterministic;
/// costs O(shard size) per call at most.
std::vector<uint32_t> client_minibatch(std::span<const uint32_t> shard, int batch, uint64_t seed,
                                       uint32_t client, uint64_t round);

}  // namespace baffle
