// Tests of data set loading (generated folders and the installed Fashion-MNIST), normalisation,
// batch gathering, the IID partition and the per-client minibatch walk.
#include "models/dataset.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "models/idx.hpp"
#include "models/philox.hpp"

namespace baffle {
namespace {

namespace fs = std::filesystem;

constexpr const char* fashion_dir = "/usr/share/datasets/fashion-mnist";

/// A fresh folder under testing::TempDir(), removed with everything in it at scope exit.
class temp_folder {
 public:
  temp_folder() {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(testing::TempDir()) /
            ("baffle_dataset_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

/// Image i has pixel j = (i * 31 + j) mod 256; label i = i mod 10.
idx_array make_images(uint32_t count, uint32_t rows, uint32_t cols) {
  idx_array a{{count, rows, cols}, std::vector<uint8_t>(size_t(count) * rows * cols)};
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = 0; j < size_t(rows) * cols; ++j) {
      a.data[i * rows * cols + j] = uint8_t(i * 31 + j);
    }
  }
  return a;
}

idx_array make_labels(uint32_t count) {
  idx_array a{{count}, std::vector<uint8_t>(count)};
  for (size_t i = 0; i < count; ++i) a.data[i] = uint8_t(i % 10);
  return a;
}

/// Writes an MNIST-format folder: the training files gzipped with .gz names, the test files plain.
void write_folder(const temp_folder& dir, uint32_t train, uint32_t test, uint32_t train_labels) {
  ASSERT_TRUE(write_idx(dir.file("train-images-idx3-ubyte.gz"), make_images(train, 4, 3), true));
  ASSERT_TRUE(write_idx(dir.file("train-labels-idx1-ubyte.gz"), make_labels(train_labels), true));
  ASSERT_TRUE(write_idx(dir.file("t10k-images-idx3-ubyte"), make_images(test, 4, 3), false));
  ASSERT_TRUE(write_idx(dir.file("t10k-labels-idx1-ubyte"), make_labels(test), false));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(LoadMnistFolder, ReadsGzippedAndPlainFilesOfAGeneratedFolder) {
  temp_folder dir;
  write_folder(dir, 50, 20, 50);
  const auto r = load_mnist_folder(dir.path(), 0, 0);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->train.count, 50);
  EXPECT_EQ(r->test.count, 20);
  EXPECT_EQ(r->train.rows, 4);
  EXPECT_EQ(r->train.cols, 3);
  EXPECT_EQ(r->train.features(), 12);
  EXPECT_EQ(r->train.num_classes, 10);
  EXPECT_EQ(r->train.pixels, make_images(50, 4, 3).data);
  EXPECT_EQ(r->train.labels, make_labels(50).data);
  EXPECT_EQ(r->test.pixels, make_images(20, 4, 3).data);
  EXPECT_EQ(r->test.labels, make_labels(20).data);
}

TEST(LoadMnistFolder, PositiveSubsetKeepsTheFirstItemsAndLargerSubsetKeepsAll) {
  temp_folder dir;
  write_folder(dir, 50, 20, 50);
  const auto r = load_mnist_folder(dir.path(), 7, 100);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->train.count, 7);
  ASSERT_EQ(r->train.pixels.size(), 7u * 12);
  ASSERT_EQ(r->train.labels.size(), 7u);
  const auto full = make_images(50, 4, 3).data;
  EXPECT_TRUE(std::equal(r->train.pixels.begin(), r->train.pixels.end(), full.begin()));
  EXPECT_EQ(r->train.labels, std::vector<uint8_t>({0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r->test.count, 20);
}

TEST(LoadMnistFolder, ImageAndLabelCountMismatchIsAnError) {
  temp_folder dir;
  write_folder(dir, 50, 20, 49);
  const auto r = load_mnist_folder(dir.path(), 10, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "count mismatch")) << r.error();
  EXPECT_TRUE(contains(r.error(), "train-labels-idx1-ubyte.gz")) << r.error();
  EXPECT_TRUE(contains(r.error(), "50")) << r.error();
  EXPECT_TRUE(contains(r.error(), "49")) << r.error();
}

TEST(LoadMnistFolder, LabelOutsideTheClassesIsAnError) {
  temp_folder dir;
  write_folder(dir, 5, 5, 5);
  idx_array labels = make_labels(5);
  labels.data[3] = 10;
  ASSERT_TRUE(write_idx(dir.file("t10k-labels-idx1-ubyte"), labels, false));
  const auto r = load_mnist_folder(dir.path(), 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "t10k-labels-idx1-ubyte")) << r.error();
  EXPECT_TRUE(contains(r.error(), "label 10 of item 3")) << r.error();
}

TEST(LoadMnistFolder, MissingFolderErrorSaysWhatWasLookedFor) {
  temp_folder dir;
  const std::string missing = dir.file("no-such-data");
  const auto r = load_mnist_folder(missing, 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), missing)) << r.error();
  EXPECT_TRUE(contains(r.error(), "not found")) << r.error();
  EXPECT_TRUE(contains(r.error(), "train-images-idx3-ubyte")) << r.error();
  EXPECT_TRUE(contains(r.error(), "t10k-labels-idx1-ubyte")) << r.error();
  EXPECT_FALSE(contains(r.error(), "apt-get")) << "only the packaged folder has an installer";
}

TEST(LoadMnistFolder, MissingFileErrorNamesBothAcceptedNames) {
  temp_folder dir;
  write_folder(dir, 5, 5, 5);
  fs::remove(dir.file("t10k-images-idx3-ubyte"));
  const auto r = load_mnist_folder(dir.path(), 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), dir.path())) << r.error();
  EXPECT_TRUE(contains(r.error(), "t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz"))
      << r.error();
}

TEST(LoadMnistFolder, ImagesOfTheWrongRankAreAnError) {
  temp_folder dir;
  write_folder(dir, 5, 5, 5);
  ASSERT_TRUE(write_idx(dir.file("t10k-images-idx3-ubyte"),
                        idx_array{{5, 12}, std::vector<uint8_t>(60)}, false));
  const auto r = load_mnist_folder(dir.path(), 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "rank 3")) << r.error();
}

TEST(FashionMnist, SliceHasTheKnownShapesAndLabels) {
  const auto r = load_mnist_folder(fashion_dir, 1000, 500);
  ASSERT_TRUE(r.ok()) << r.error();
  const dataset& train = r->train;
  const dataset& test = r->test;
  EXPECT_EQ(train.count, 1000);
  EXPECT_EQ(test.count, 500);
  EXPECT_EQ(train.rows, 28);
  EXPECT_EQ(train.cols, 28);
  EXPECT_EQ(test.rows, 28);
  EXPECT_EQ(test.cols, 28);
  EXPECT_EQ(train.pixels.size(), 1000u * 784);
  EXPECT_EQ(test.pixels.size(), 500u * 784);
  EXPECT_TRUE(
      std::all_of(train.labels.begin(), train.labels.end(), [](uint8_t l) { return l < 10; }));
  EXPECT_TRUE(
      std::all_of(test.labels.begin(), test.labels.end(), [](uint8_t l) { return l < 10; }));
  std::set<uint8_t> seen(train.labels.begin(), train.labels.end());
  EXPECT_EQ(seen.size(), 10u) << "1000 images should include every class";

  // Checked with zcat | xxd: training labels start 9 0 0 3 (ankle boot, T-shirt, T-shirt, dress),
  // test labels 9 2 1 1; image 0 of the training set has pixel sum 76247 over 433 non-zero pixels.
  EXPECT_EQ(std::vector<uint8_t>(train.labels.begin(), train.labels.begin() + 4),
            std::vector<uint8_t>({9, 0, 0, 3}));
  EXPECT_EQ(std::vector<uint8_t>(test.labels.begin(), test.labels.begin() + 4),
            std::vector<uint8_t>({9, 2, 1, 1}));
  int64_t sum = 0;
  int nonzero = 0;
  for (int j = 0; j < 784; ++j) {
    sum += train.pixels[j];
    nonzero += train.pixels[j] != 0;
  }
  EXPECT_EQ(sum, 76247);
  EXPECT_EQ(nonzero, 433);
}

TEST(FashionMnist, FullLoadHasTheStandardSizesAndStatistics) {
  const auto r = load_mnist_folder(fashion_dir, 0, 0);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->train.count, 60000);
  EXPECT_EQ(r->test.count, 10000);
  // The widely quoted Fashion-MNIST training statistics: mean 0.2860, stddev 0.3530.
  const normalization norm = measure_normalization(r->train);
  EXPECT_NEAR(norm.mean, 0.2860, 5e-4);
  EXPECT_NEAR(norm.stddev, 0.3530, 5e-4);
}

TEST(FashionMnist, TrailingSeparatorNamesTheSameFolder) {
  const auto r = load_mnist_folder(std::string(fashion_dir) + "/", 10, 10);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->train.labels[0], 9);
}

TEST(MeasureNormalization, HandMadeSetGivesMeanAndPopulationStddev) {
  dataset d;
  d.count = 2;
  d.rows = 1;
  d.cols = 2;
  d.pixels = {0, 0, 0, 255};  // values 0, 0, 0, 1
  d.labels = {0, 1};
  const normalization norm = measure_normalization(d);
  EXPECT_FLOAT_EQ(norm.mean, 0.25f);
  EXPECT_FLOAT_EQ(norm.stddev, float(std::sqrt(0.25 * 0.75)));

  d.pixels = {51, 102, 153, 204};  // 0.2, 0.4, 0.6, 0.8
  const normalization spread = measure_normalization(d);
  EXPECT_FLOAT_EQ(spread.mean, 0.5f);
  EXPECT_FLOAT_EQ(spread.stddev, float(std::sqrt(0.05)));
}

TEST(MeasureNormalization, ConstantOrEmptySetGivesUnitStddev) {
  dataset d;
  d.count = 1;
  d.rows = 2;
  d.cols = 2;
  d.pixels = {255, 255, 255, 255};
  d.labels = {0};
  const normalization norm = measure_normalization(d);
  EXPECT_FLOAT_EQ(norm.mean, 1.f);
  EXPECT_EQ(norm.stddev, 1.f);
  const normalization empty = measure_normalization(dataset{});
  EXPECT_EQ(empty.mean, 0.f);
  EXPECT_EQ(empty.stddev, 1.f);
}

TEST(GatherBatch, CopiesTheChosenRowsNormalisedWithTheirLabels) {
  dataset d;
  d.count = 3;
  d.rows = 1;
  d.cols = 2;
  d.pixels = {0, 255, 51, 102, 153, 204};
  d.labels = {7, 3, 9};
  const normalization norm{0.5f, 0.25f};
  const std::vector<uint32_t> indices{2, 0, 2};
  std::vector<float> x(6, -99.f);  // x: (3, 2)
  std::vector<int32_t> y(3, -1);
  gather_batch(d, indices, norm, x, y);
  auto expected = [&](uint8_t p) { return (float(p) / 255.f - norm.mean) / norm.stddev; };
  EXPECT_EQ(x, std::vector<float>({expected(153), expected(204), expected(0), expected(255),
                                   expected(153), expected(204)}));
  EXPECT_FLOAT_EQ(x[2], -2.f);
  EXPECT_FLOAT_EQ(x[3], 2.f);
  EXPECT_FLOAT_EQ(x[0], (0.6f - 0.5f) / 0.25f);
  EXPECT_EQ(y, std::vector<int32_t>({9, 7, 9}));
}

TEST(GatherBatch, EveryNormalisationGetsItsOwnValuesInAnyOrderOfCalls) {
  // gather_batch keeps the last normalisation's lookup table per thread: alternating between
  // normalisations (and one differing only in the last bit) must never reuse a stale table.
  dataset d;
  d.count = 1;
  d.rows = 1;
  d.cols = 4;
  d.pixels = {0, 1, 128, 255};
  d.labels = {3};
  const normalization a{0.5f, 0.25f};
  const normalization b{0.1f, 2.f};
  const normalization c{0.5f, std::nextafter(0.25f, 1.f)};
  const std::vector<uint32_t> index{0};
  for (const normalization& norm : {a, b, a, c, a, c, b}) {
    std::vector<float> x(4);
    std::vector<int32_t> y(1);
    gather_batch(d, index, norm, x, y);
    for (size_t j = 0; j < 4; ++j)
      EXPECT_EQ(x[j], (float(d.pixels[j]) / 255.f - norm.mean) / norm.stddev) << j;
    EXPECT_EQ(y[0], 3);
  }
}

TEST(GatherBatch, EmptyIndexListWritesNothing) {
  dataset d;
  d.count = 1;
  d.rows = 1;
  d.cols = 1;
  d.pixels = {1};
  d.labels = {1};
  gather_batch(d, {}, normalization{}, {}, {});
}

TEST(HugePages, AskingForThemChangesNoPixel) {
  // 12 MB of 64-byte images: several whole 2 MB pages inside, wherever the buffer starts.
  dataset d;
  d.count = 196608;
  d.rows = 8;
  d.cols = 8;
  d.pixels.resize(size_t(d.count) * 64);
  for (size_t i = 0; i < d.pixels.size(); ++i) d.pixels[i] = uint8_t((i * 2654435761u) >> 13);
  d.labels.assign(size_t(d.count), 3);
  const std::vector<uint8_t> before = d.pixels;
  prefer_huge_pages(d);
  EXPECT_EQ(d.pixels, before);
  dataset empty;
  prefer_huge_pages(empty);  // nothing to advise: no call at all
  EXPECT_TRUE(empty.pixels.empty());
}

/// Checks that the validation set and shards are sorted, disjoint and cover [0, n) exactly.
void expect_exact_cover(const partition& p, uint32_t n) {
  std::vector<int> seen(n, 0);
  EXPECT_TRUE(std::is_sorted(p.validation.begin(), p.validation.end()));
  for (uint32_t i : p.validation) ++seen.at(i);
  for (const auto& shard : p.clients) {
    EXPECT_TRUE(std::is_sorted(shard.begin(), shard.end()));
    for (uint32_t i : shard) ++seen.at(i);
  }
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(seen[i], 1) << "index " << i;
}

TEST(PartitionIid, SizesAreRoundedValidationAndNearEqualShards) {
  const partition p = partition_iid(1000, 7, 0.1, 42);
  EXPECT_EQ(p.validation.size(), 100u);
  ASSERT_EQ(p.clients.size(), 7u);
  // 900 = 7 * 128 + 4: four shards of 129, three of 128.
  int big = 0;
  for (const auto& shard : p.clients) {
    EXPECT_TRUE(shard.size() == 128 || shard.size() == 129) << shard.size();
    big += shard.size() == 129;
  }
  EXPECT_EQ(big, 4);
  expect_exact_cover(p, 1000);

  EXPECT_EQ(partition_iid(10, 3, 0.25, 1).validation.size(), 3u);  // round(2.5) = 3
  EXPECT_EQ(partition_iid(10, 3, 0.0, 1).validation.size(), 0u);
  const partition all = partition_iid(10, 3, 1.0, 1);
  EXPECT_EQ(all.validation.size(), 10u);
  for (const auto& shard : all.clients) EXPECT_TRUE(shard.empty());
}

TEST(PartitionIid, ShardsAreDisjointAndCoverEveryIndex) {
  for (uint32_t n : {0u, 1u, 5u, 997u, 60000u}) {
    for (int clients : {1, 3, 10}) {
      const partition p = partition_iid(n, clients, 0.05, n + uint64_t(clients));
      ASSERT_EQ(p.clients.size(), size_t(clients));
      size_t smallest = SIZE_MAX, largest = 0;
      for (const auto& shard : p.clients) {
        smallest = std::min(smallest, shard.size());
        largest = std::max(largest, shard.size());
      }
      EXPECT_LE(largest - smallest, 1u) << "n " << n << " clients " << clients;
      expect_exact_cover(p, n);
    }
  }
}

TEST(PartitionIid, SameSeedSameSplitOtherSeedOtherSplit) {
  const partition a = partition_iid(5000, 10, 0.1, 7);
  const partition b = partition_iid(5000, 10, 0.1, 7);
  const partition c = partition_iid(5000, 10, 0.1, 8);
  EXPECT_EQ(a.validation, b.validation);
  EXPECT_EQ(a.clients, b.clients);
  EXPECT_NE(a.validation, c.validation);
  for (size_t k = 0; k < a.clients.size(); ++k) EXPECT_NE(a.clients[k], c.clients[k]);
}

TEST(PartitionIid, ShardsAreMixedNotContiguousRanges) {
  const partition p = partition_iid(10000, 4, 0.0, 3);
  for (const auto& shard : p.clients) {
    // A random quarter of [0, 10000) spans nearly the whole range.
    EXPECT_LT(shard.front(), 100u);
    EXPECT_GT(shard.back(), 9900u);
  }
}

std::vector<uint32_t> make_shard(uint32_t size) {
  std::vector<uint32_t> shard(size);
  for (uint32_t i = 0; i < size; ++i) shard[i] = 3 * i + 11;  // dataset indices, not positions
  return shard;
}

TEST(ClientMinibatch, SameArgumentsGiveTheSameBatchAndOthersDiffer) {
  const auto shard = make_shard(200);
  const auto a = client_minibatch(shard, 32, 99, 4, 17);
  EXPECT_EQ(a, client_minibatch(shard, 32, 99, 4, 17));
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, client_minibatch(shard, 32, 99, 5, 17));   // another client
  EXPECT_NE(a, client_minibatch(shard, 32, 100, 4, 17));  // another seed
  EXPECT_NE(a, client_minibatch(shard, 32, 99, 4, 18));   // another round
}

TEST(ClientMinibatch, IndicesComeFromTheShard) {
  const auto shard = make_shard(97);
  const std::set<uint32_t> members(shard.begin(), shard.end());
  for (uint64_t round = 0; round < 20; ++round) {
    for (uint32_t i : client_minibatch(shard, 10, 5, 2, round)) {
      EXPECT_TRUE(members.count(i)) << i << " in round " << round;
    }
  }
}

TEST(ClientMinibatch, AFullEpochCoversTheShardExactlyOnce) {
  const auto shard = make_shard(60);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<uint32_t> seen;
    for (int r = 0; r < 6; ++r) {
      const auto batch = client_minibatch(shard, 10, 1234, 0, uint64_t(epoch * 6 + r));
      seen.insert(seen.end(), batch.begin(), batch.end());
    }
    std::vector<uint32_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, shard) << "epoch " << epoch;
    EXPECT_NE(seen, shard) << "order should be shuffled";
  }
}

TEST(ClientMinibatch, WalksTheConcatenatedPerEpochPermutations) {
  // Reference: build the permutations of epochs 0..5 in full and read windows from their
  // concatenation, including windows that straddle an epoch boundary (25 is not a multiple of 10).
  const auto shard = make_shard(25);
  const uint64_t seed = 77;
  const uint32_t client = 3;
  std::vector<uint32_t> walk;
  for (uint32_t e = 0; e < 6; ++e) {
    std::vector<uint32_t> order = shard;
    shuffle(order, stream_id{derive_seed(seed, purpose::minibatch, client), purpose::minibatch, e});
    walk.insert(walk.end(), order.begin(), order.end());
  }
  for (uint64_t round = 0; round < 15; ++round) {
    const std::vector<uint32_t> expected(walk.begin() + round * 10, walk.begin() + round * 10 + 10);
    EXPECT_EQ(client_minibatch(shard, 10, seed, client, round), expected) << "round " << round;
  }
  // Consecutive epochs use different permutations.
  EXPECT_FALSE(std::equal(walk.begin(), walk.begin() + 25, walk.begin() + 25));
}

TEST(ClientMinibatch, BatchLargerThanTheShardIsCappedToOneFullEpoch) {
  const auto shard = make_shard(8);
  for (uint64_t round = 0; round < 4; ++round) {
    auto batch = client_minibatch(shard, 100, 9, 1, round);
    ASSERT_EQ(batch.size(), 8u);
    std::sort(batch.begin(), batch.end());
    EXPECT_EQ(batch, shard);
  }
  EXPECT_TRUE(client_minibatch({}, 10, 9, 1, 0).empty());
}

}  // namespace
}  // namespace baffle
