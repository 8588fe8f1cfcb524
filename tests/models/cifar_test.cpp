// Tests of the CIFAR-10 binary loader on small generated batch files: the round trip of labels
// and channel planes, subsets across batch boundaries, and the errors for missing, truncated or
// mislabelled files.
#include "models/cifar.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/models/cifar_fixture.hpp"

namespace baffle {
namespace {

namespace fs = std::filesystem;
using namespace cifar_fixture;

/// A fresh folder under testing::TempDir(), removed with everything in it at scope exit.
class temp_folder {
 public:
  temp_folder() {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(testing::TempDir()) /
            ("baffle_cifar_" + std::string(info->name()) + "_" + std::to_string(getpid()));
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

/// Whether image k of d is global fake image i, label and every plane.
void expect_image(const dataset& d, int64_t k, int64_t i) {
  ASSERT_LT(k, d.count);
  EXPECT_EQ(d.labels[size_t(k)], fake_label(i)) << "image " << k;
  const uint8_t* x = d.pixels.data() + size_t(k) * 3072;  // (channels, rows, cols)
  for (int c = 0; c < 3; ++c) {
    for (int r = 0; r < 32; ++r) {
      for (int col = 0; col < 32; ++col) {
        ASSERT_EQ(x[c * 1024 + r * 32 + col], fake_pixel(i, c, r, col))
            << "image " << k << " channel " << c << " row " << r << " col " << col;
      }
    }
  }
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(LoadCifar10Folder, RoundTripsLabelsAndChannelPlanesOfGeneratedBatches) {
  temp_folder dir;
  write_fake_cifar(dir.path());
  const auto r = load_cifar10_folder(dir.path(), 0, 0);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->channels, 3);
  EXPECT_EQ(r->features(), 3072);
  for (const dataset* d : {&r->train, &r->test}) {
    EXPECT_EQ(d->rows, 32);
    EXPECT_EQ(d->cols, 32);
    EXPECT_EQ(d->features(), 3072) << "channels x rows x cols";
    EXPECT_EQ(d->channels, 3);
    EXPECT_EQ(d->num_classes, 10);
    EXPECT_EQ(d->pixels.size(), size_t(d->count) * 3072);
    EXPECT_EQ(d->labels.size(), size_t(d->count));
  }
  ASSERT_EQ(r->train.count, 15);
  ASSERT_EQ(r->test.count, 4);
  for (int64_t k = 0; k < 15; ++k) expect_image(r->train, k, k);
  for (int64_t k = 0; k < 4; ++k) expect_image(r->test, k, first_test_image + k);
}

TEST(LoadCifar10Folder, SubsetKeepsTheFirstRecordsAcrossBatchBoundaries) {
  temp_folder dir;
  write_fake_cifar(dir.path());
  const auto r = load_cifar10_folder(dir.path(), 7, 2);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->train.count, 7);  // batches 1 and 2 whole, one record of batch 3
  ASSERT_EQ(r->train.pixels.size(), 7u * 3072);
  for (int64_t k = 0; k < 7; ++k) expect_image(r->train, k, k);
  ASSERT_EQ(r->test.count, 2);
  for (int64_t k = 0; k < 2; ++k) expect_image(r->test, k, first_test_image + k);
}

TEST(LoadCifar10Folder, SubsetLargerThanTheFilesKeepsEverything) {
  temp_folder dir;
  write_fake_cifar(dir.path());
  const auto r = load_cifar10_folder(dir.path(), 1000, 50);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->train.count, 15);
  EXPECT_EQ(r->test.count, 4);
}

TEST(LoadCifar10Folder, TruncatedFileErrorNamesTheFileAndTheShortRecord) {
  temp_folder dir;
  write_fake_cifar(dir.path());
  std::vector<char> bytes = fake_records(6, 3);
  bytes.resize(bytes.size() - 1000);  // record 2 keeps 2073 of 3073 bytes
  write_bytes(dir.file("data_batch_3.bin"), bytes);
  // Even a subset that would not reach batch 3 reports it: files are checked before reading.
  const auto r = load_cifar10_folder(dir.path(), 2, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), dir.file("data_batch_3.bin"))) << r.error();
  EXPECT_TRUE(contains(r.error(), "truncated")) << r.error();
  EXPECT_TRUE(contains(r.error(), "record 2")) << r.error();
  EXPECT_TRUE(contains(r.error(), "2073")) << r.error();
}

TEST(LoadCifar10Folder, EmptyFileIsAnError) {
  temp_folder dir;
  write_fake_cifar(dir.path());
  write_bytes(dir.file("test_batch.bin"), {});
  const auto r = load_cifar10_folder(dir.path(), 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "test_batch.bin is empty")) << r.error();
}

TEST(LoadCifar10Folder, MissingFileErrorNamesItAndTheExpectedFiles) {
  temp_folder dir;
  write_fake_cifar(dir.path());
  fs::remove(dir.file("data_batch_4.bin"));
  const auto r = load_cifar10_folder(dir.path(), 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), dir.path())) << r.error();
  EXPECT_TRUE(contains(r.error(), "data_batch_4.bin not found")) << r.error();
  EXPECT_TRUE(contains(r.error(), "cifar-10-binary.tar.gz")) << r.error();
}

TEST(LoadCifar10Folder, MissingFolderErrorNamesIt) {
  temp_folder dir;
  const std::string missing = dir.file("no-such-cifar");
  const auto r = load_cifar10_folder(missing, 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), missing + " not found")) << r.error();
  EXPECT_TRUE(contains(r.error(), "test_batch.bin")) << r.error();
}

TEST(LoadCifar10Folder, LabelOutsideTheTenClassesIsAnError) {
  temp_folder dir;
  write_fake_cifar(dir.path());
  std::vector<char> bytes = fake_records(first_test_image, 4);
  bytes[size_t(1 * 3073)] = char(10);
  write_bytes(dir.file("test_batch.bin"), bytes);
  const auto r = load_cifar10_folder(dir.path(), 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error(), "test_batch.bin")) << r.error();
  EXPECT_TRUE(contains(r.error(), "label 10 of record 1")) << r.error();
}

}  // namespace
}  // namespace baffle
