// MNIST-format loading, normalisation, batch gathering and the seeded IID split. Every random
// choice comes from a Philox stream keyed by (seed, purpose, id), so any process can recompute any
// client's shard or minibatch without talking to anyone.
#include "models/dataset.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>

#include "models/idx.hpp"
#include "models/philox.hpp"

namespace baffle {
namespace {

namespace fs = std::filesystem;

constexpr const char* fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";

/// What to tell a person who lacks the data set: only the packaged folder has a known installer.
std::string install_hint(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();  // drop a trailing separator
  if (p != fs::path(fashion_mnist_dir)) return "";
  return " Fashion-MNIST is provided by `apt-get install dataset-fashion-mnist` (or tools/setup).";
}

/// The path of `name` or `name.gz` in dir, or an error naming both.
result<std::string> find_member(const std::string& dir, const std::string& name) {
  std::error_code ec;
  for (const std::string& candidate : {name, name + ".gz"}) {
    const fs::path p = fs::path(dir) / candidate;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return error_message{"MNIST folder " + dir + ": neither " + name + " nor " + name + ".gz found." +
                       install_hint(dir)};
}

/// One split (prefix "train" or "t10k"): images and labels checked against each other.
result<dataset> load_split(const std::string& dir, const std::string& prefix, int64_t subset) {
  auto images_path = find_member(dir, prefix + "-images-idx3-ubyte");
  if (!images_path) return error_message{images_path.error()};
  auto labels_path = find_member(dir, prefix + "-labels-idx1-ubyte");
  if (!labels_path) return error_message{labels_path.error()};
  // Only the kept items are read: a subset of a large gzipped file costs milliseconds.
  const uint64_t keep = subset > 0 ? uint64_t(subset) : 0;
  auto images_read = read_idx_prefix(*images_path, keep);
  if (!images_read) return error_message{images_read.error()};
  auto labels_read = read_idx_prefix(*labels_path, keep);
  if (!labels_read) return error_message{labels_read.error()};
  idx_array& images = images_read->kept;
  idx_array& labels = labels_read->kept;

  if (images.dims.size() != 3) {
    return error_message{"IDX file " + *images_path + ": expected images of rank 3 (count, rows, " +
                         "cols), found rank " + std::to_string(images.dims.size())};
  }
  if (labels.dims.size() != 1) {
    return error_message{"IDX file " + *labels_path + ": expected labels of rank 1 (count), " +
                         "found rank " + std::to_string(labels.dims.size())};
  }
  if (images_read->stored_items != labels_read->stored_items) {
    return error_message{"MNIST folder " + dir + ": count mismatch, " + *images_path + " holds " +
                         std::to_string(images_read->stored_items) + " images but " + *labels_path +
                         " holds " + std::to_string(labels_read->stored_items) + " labels"};
  }
  if (images.dims[1] == 0 || images.dims[2] == 0 || images.dims[1] > INT_MAX ||
      images.dims[2] > INT_MAX) {
    return error_message{"IDX file " + *images_path + ": bad image size " +
                         std::to_string(images.dims[1]) + "x" + std::to_string(images.dims[2])};
  }

  dataset d;
  d.rows = int(images.dims[1]);
  d.cols = int(images.dims[2]);
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= d.num_classes) {
      return error_message{"IDX file " + *labels_path + ": label " +
                           std::to_string(labels.data[i]) + " of item " + std::to_string(i) +
                           " is not below the " + std::to_string(d.num_classes) + " classes"};
    }
  }
  d.count = images.dims[0];
  d.pixels = std::move(images.data);
  d.labels = std::move(labels.data);
  return d;
}

}  // namespace

result<train_test> load_mnist_folder(const std::string& dir, int64_t train_subset,
                                     int64_t test_subset) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return error_message{
        "MNIST folder " + dir + " not found (looked for train-images-idx3-ubyte, " +
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, " +
        "each optionally .gz)." + install_hint(dir)};
  }
  auto train = load_split(dir, "train", train_subset);
  if (!train) return error_message{train.error()};
  auto test = load_split(dir, "t10k", test_subset);
  if (!test) return error_message{test.error()};
  if (train->rows != test->rows || train->cols != test->cols) {
    return error_message{"MNIST folder " + dir + ": training images are " +
                         std::to_string(train->rows) + "x" + std::to_string(train->cols) +
                         " but test images are " + std::to_string(test->rows) + "x" +
                         std::to_string(test->cols)};
  }
  return train_test{std::move(*train), std::move(*test)};
}

void prefer_huge_pages(const dataset& d) {
  constexpr uintptr_t huge = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(d.pixels.data());
  const uintptr_t first = (begin + huge - 1) & ~(huge - 1);
  const uintptr_t last = (begin + d.pixels.size()) & ~(huge - 1);
  if (d.pixels.empty() || last <= first) return;
  void* at = reinterpret_cast<void*>(first);
  const size_t length = last - first;
  if (madvise(at, length, MADV_HUGEPAGE) != 0) return;
  constexpr int collapse = 25;  // MADV_COLLAPSE (Linux 6.1); older kernels answer EINVAL
  (void)madvise(at, length, collapse);
}

normalization measure_normalization(const dataset& d) {
  // A histogram makes the sums exact integers, so the result cannot depend on summation order.
  std::array<uint64_t, 256> histogram{};
  if (d.pixels.empty()) return {};
  for (uint8_t p : d.pixels) ++histogram[p];
  const double n = double(d.pixels.size());
  double sum = 0;
  for (int v = 0; v < 256; ++v) sum += double(histogram[v]) * (v / 255.0);
  const double mean = sum / n;
  double squares = 0;
  for (int v = 0; v < 256; ++v) {
    const double dev = v / 255.0 - mean;
    squares += double(histogram[v]) * dev * dev;
  }
  const double stddev = std::sqrt(squares / n);
  return {float(mean), stddev > 0 ? float(stddev) : 1.f};
}

void gather_batch(const dataset& d, std::span<const uint32_t> indices, const normalization& norm,
                  std::span<float> x, std::span<int32_t> y) {
  const size_t features = size_t(d.features());
  assert(x.size() == indices.size() * features);
  assert(y.size() == indices.size());
  // A byte has 256 values: one table gives every pixel the same bits as the formula. It is kept
  // per thread for the last normalisation seen: building it (256 divisions) cost more than
  // gathering a small client's minibatch.
  struct cached_table {
    float mean = 0.f, stddev = 0.f;
    bool valid = false;
    std::array<float, 256> values;
  };
  thread_local cached_table cache;
  if (!cache.valid || std::memcmp(&cache.mean, &norm.mean, sizeof(float)) != 0 ||
      std::memcmp(&cache.stddev, &norm.stddev, sizeof(float)) != 0) {
    for (int v = 0; v < 256; ++v) cache.values[v] = (float(v) / 255.f - norm.mean) / norm.stddev;
    cache.mean = norm.mean;
    cache.stddev = norm.stddev;
    cache.valid = true;
  }
  const std::array<float, 256>& table = cache.values;
  for (size_t i = 0; i < indices.size(); ++i) {
    assert(int64_t(indices[i]) < d.count);
    const uint8_t* src = d.pixels.data() + size_t(indices[i]) * features;
    float* dst = x.data() + i * features;  // x: (B, features)
    for (size_t j = 0; j < features; ++j) dst[j] = table[src[j]];
    y[i] = d.labels[indices[i]];
  }
}

partition partition_iid(uint32_t n, int clients, double validation_fraction, uint64_t seed) {
  assert(clients > 0);
  assert(validation_fraction >= 0 && validation_fraction <= 1);
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  shuffle(order, stream_id{seed, purpose::partition, 0});

  const double wanted = std::round(double(n) * validation_fraction);
  const size_t validation = size_t(std::clamp(wanted, 0.0, double(n)));
  partition p;
  p.validation.assign(order.begin(), order.begin() + validation);
  std::sort(p.validation.begin(), p.validation.end());
  p.clients.resize(size_t(clients));
  for (auto& shard : p.clients) shard.reserve((n - validation) / size_t(clients) + 1);
  for (size_t i = validation; i < order.size(); ++i) {
    p.clients[(i - validation) % size_t(clients)].push_back(order[i]);
  }
  for (auto& shard : p.clients) std::sort(shard.begin(), shard.end());
  return p;
}

std::vector<uint32_t> client_minibatch(std::span<const uint32_t> shard, int batch, uint64_t seed,
                                       uint32_t client, uint64_t round) {
  assert(batch > 0);
  const uint64_t size = shard.size();
  if (size == 0 || batch <= 0) return {};
  const uint64_t b = std::min<uint64_t>(uint64_t(batch), size);
  const uint64_t client_seed = derive_seed(seed, purpose::minibatch, client);

  // With b <= size the window touches at most two consecutive epochs.
  std::vector<uint32_t> out;
  out.reserve(b);
  std::vector<uint32_t> order;
  uint64_t epoch = UINT64_MAX;
  for (uint64_t pos = round * b; pos < round * b + b; ++pos) {
    if (pos / size != epoch) {
      epoch = pos / size;
      order.assign(shard.begin(), shard.end());
      shuffle(order, stream_id{client_seed, purpose::minibatch, uint32_t(epoch)});
    }
    out.push_back(order[pos % size]);
  }
  return out;
}

}  // namespace baffle
