// Tests of the IDX reader and writer: round trips in both encodings, and that every kind of broken
// file gives an error naming the file instead of a crash or silent garbage.
#include "models/idx.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace baffle {
namespace {

namespace fs = std::filesystem;

/// A fresh folder under testing::TempDir(), removed with everything in it at scope exit.
class temp_folder {
 public:
  temp_folder() {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::path(testing::TempDir()) /
            ("baffle_idx_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_folder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void write_gzip_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile out = gzopen(path.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(gzwrite(out, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  EXPECT_EQ(gzclose(out), Z_OK);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

idx_array sample_array(std::vector<uint32_t> dims) {
  idx_array a{std::move(dims), {}};
  size_t count = 1;
  for (uint32_t d : a.dims) count *= d;
  a.data.resize(count);
  for (size_t i = 0; i < count; ++i) a.data[i] = uint8_t(i * 37 + i / 256);
  return a;
}

TEST(Idx, RoundTripKeepsDimsAndDataForRanksOneAndThreeGzippedAndPlain) {
  temp_folder dir;
  for (bool gzip : {false, true}) {
    for (const auto& dims : {std::vector<uint32_t>{1000}, std::vector<uint32_t>{7, 28, 28}}) {
      const idx_array a = sample_array(dims);
      const std::string path =
          dir.file(std::string(dims.size() == 1 ? "rank1" : "rank3") + (gzip ? ".gz" : ""));
      ASSERT_TRUE(write_idx(path, a, gzip).ok());
      const auto back = read_idx(path);
      ASSERT_TRUE(back.ok()) << back.error();
      EXPECT_EQ(back->dims, a.dims);
      EXPECT_EQ(back->data, a.data);
    }
  }
}

TEST(Idx, GzipFlagChoosesTheEncodingOnDisk) {
  temp_folder dir;
  const idx_array a = sample_array({3, 2});
  ASSERT_TRUE(write_idx(dir.file("z"), a, true).ok());
  ASSERT_TRUE(write_idx(dir.file("p"), a, false).ok());
  const auto z = read_bytes(dir.file("z"));
  const auto p = read_bytes(dir.file("p"));
  ASSERT_GE(z.size(), 2u);
  EXPECT_EQ(z[0], 0x1f);  // gzip magic
  EXPECT_EQ(z[1], 0x8b);
  const std::vector<uint8_t> plain{0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 2};
  ASSERT_EQ(p.size(), plain.size() + 6);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), p.begin()));
}

TEST(Idx, LargeGzippedArrayRoundTrips) {
  temp_folder dir;
  const idx_array a = sample_array({300, 256, 256});  // ~20 MB: more than one read chunk
  ASSERT_TRUE(write_idx(dir.file("big.gz"), a, true).ok());
  const auto back = read_idx(dir.file("big.gz"));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->data, a.data);
}

TEST(IdxPrefix, KeepsTheFirstItemsAndReportsTheStoredCount) {
  temp_folder dir;
  for (bool gzip : {false, true}) {
    const idx_array a = sample_array({20, 3, 5});
    const std::string path = dir.file(gzip ? "p.gz" : "p");
    ASSERT_TRUE(write_idx(path, a, gzip).ok());
    const auto r = read_idx_prefix(path, 4);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->stored_items, 20u);
    EXPECT_EQ(r->kept.dims, std::vector<uint32_t>({4, 3, 5}));
    EXPECT_EQ(r->kept.data, std::vector<uint8_t>(a.data.begin(), a.data.begin() + 4 * 15));
    for (uint64_t all : {0, 20, 1000}) {
      const auto whole = read_idx_prefix(path, all);
      ASSERT_TRUE(whole.ok()) << whole.error();
      EXPECT_EQ(whole->stored_items, 20u);
      EXPECT_EQ(whole->kept.dims, a.dims);
      EXPECT_EQ(whole->kept.data, a.data);
    }
  }
}

TEST(IdxPrefix, ChecksOnlyTheBytesItReads) {
  temp_folder dir;
  const std::string path = dir.file("cut");
  write_bytes(path, {0, 0, 8, 2, 0, 0, 0, 4, 0, 0, 0, 2, 1, 2, 3, 4, 5});  // 8 promised, 5 held
  const auto head = read_idx_prefix(path, 2);
  ASSERT_TRUE(head.ok()) << head.error();
  EXPECT_EQ(head->kept.data, std::vector<uint8_t>({1, 2, 3, 4}));
  const auto r = read_idx_prefix(path, 3);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
  EXPECT_FALSE(read_idx(path).ok());
}

TEST(Idx, MissingFileIsAnErrorNamingIt) {
  temp_folder dir;
  const std::string path = dir.file("nothing-here");
  const auto r = read_idx(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("not found"), std::string::npos) << r.error();
}

TEST(Idx, TruncatedDataIsAnErrorNamingTheFileGzippedOrPlain) {
  temp_folder dir;
  std::vector<uint8_t> bytes{0, 0, 8, 2, 0, 0, 0, 10, 0, 0, 0, 4};  // promises 40 data bytes
  bytes.resize(bytes.size() + 30, 7);
  for (bool gzip : {false, true}) {
    const std::string path = dir.file(gzip ? "cut.gz" : "cut");
    if (gzip) {
      write_gzip_bytes(path, bytes);
    } else {
      write_bytes(path, bytes);
    }
    const auto r = read_idx(path);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
  }
}

TEST(Idx, CorruptGzipStreamIsAnErrorNamingTheFile) {
  temp_folder dir;
  const std::string path = dir.file("corrupt.gz");
  ASSERT_TRUE(write_idx(path, sample_array({50, 50}), true).ok());
  auto file = read_bytes(path);
  for (size_t i = 20; i < file.size() - 8; i += 3) file[i] ^= 0x5a;
  write_bytes(path, file);
  const auto r = read_idx(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
}

TEST(Idx, TruncatedHeaderAndEmptyFileAreErrors) {
  temp_folder dir;
  write_bytes(dir.file("empty"), {});
  write_bytes(dir.file("short"), {0, 0, 8, 3, 0, 0, 0, 1, 0, 0});
  for (const char* name : {"empty", "short"}) {
    const auto r = read_idx(dir.file(name));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find(dir.file(name)), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
  }
}

TEST(Idx, BadMagicIsAnErrorNamingTheFile) {
  temp_folder dir;
  const std::string path = dir.file("text.txt");
  write_bytes(path, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  const auto r = read_idx(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("bad magic"), std::string::npos) << r.error();
}

TEST(Idx, NonByteTypeCodeIsUnsupported) {
  temp_folder dir;
  const std::string path = dir.file("floats");
  write_bytes(path, {0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0x80, 0, 0});  // one float32
  const auto r = read_idx(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("unsupported type code 0x0d"), std::string::npos) << r.error();
}

TEST(Idx, TrailingBytesAreASizeMismatch) {
  temp_folder dir;
  const std::string path = dir.file("long");
  write_bytes(path, {0, 0, 8, 1, 0, 0, 0, 2, 5, 6, 7});
  const auto r = read_idx(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("size mismatch"), std::string::npos) << r.error();
}

TEST(Idx, AbsurdDimensionsAreRejectedWithoutAllocating) {
  temp_folder dir;
  const std::string path = dir.file("huge");
  write_bytes(path, {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9});
  const auto r = read_idx(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
}

TEST(Idx, WritingDataThatDisagreesWithDimsIsAnError) {
  temp_folder dir;
  const idx_array a{{2, 3}, {1, 2, 3}};
  const auto r = write_idx(dir.file("bad"), a, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("size mismatch"), std::string::npos) << r.error();
}

TEST(Idx, WritingIntoAMissingFolderIsAnError) {
  temp_folder dir;
  const std::string path = dir.file("no/such/folder/x");
  const auto r = write_idx(path, sample_array({2}), true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(path), std::string::npos) << r.error();
}

}  // namespace
}  // namespace baffle
