// Atomic writes and the sealed container: round trips, a failed write leaves the old file and no
// temporary behind, and unseal refuses every single-byte corruption and every truncation.
#include "net/atomic_file.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace baffle {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "baffle_atomic_file_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "cannot create a folder like " << pattern;
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

  fs::path dir_;
};

// Every byte value, so no text-mode or NUL handling can hide.
std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(char(i));
  return s;
}

TEST_F(AtomicFile, WriteThenReadRoundTrips) {
  const std::string path = file("a.bin");
  const std::string bytes = all_bytes();
  ASSERT_TRUE(write_file_atomically(path, bytes).ok());
  const auto back = read_file(path);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, bytes);
  EXPECT_EQ(listing(), std::vector<std::string>{"a.bin"});
}

TEST_F(AtomicFile, WriteReplacesTheWholeOldFile) {
  const std::string path = file("a.txt");
  ASSERT_TRUE(write_file_atomically(path, "a long first version\n").ok());
  ASSERT_TRUE(write_file_atomically(path, "short\n").ok());
  EXPECT_EQ(*read_file(path), "short\n");
  ASSERT_TRUE(write_file_atomically(path, "").ok());
  EXPECT_EQ(*read_file(path), "");
  EXPECT_EQ(listing(), std::vector<std::string>{"a.txt"});
}

TEST_F(AtomicFile, WriteIntoAMissingFolderFailsAndCreatesNothing) {
  const std::string path = file("missing/a.bin");
  const auto r = write_file_atomically(path, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("missing/a.bin"), std::string::npos) << r.error();
  EXPECT_TRUE(listing().empty());
}

TEST_F(AtomicFile, FailedRenameRemovesTheTemporaryFile) {
  // A non-empty folder cannot be renamed over, so the write fails after the temporary is complete.
  const std::string path = file("target");
  fs::create_directory(path);
  ASSERT_TRUE(write_file_atomically(file("target/inner"), "keep").ok());
  const auto r = write_file_atomically(path, "new");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot rename"), std::string::npos) << r.error();
  EXPECT_EQ(listing(), std::vector<std::string>{"target"});
  EXPECT_EQ(*read_file(file("target/inner")), "keep");
}

// Caps the size of files this process may write, as a full disk would; restores it when done.
class file_size_cap {
 public:
  explicit file_size_cap(rlim_t bytes) {
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // fail the write with EFBIG instead
    getrlimit(RLIMIT_FSIZE, &old_);
    rlimit capped = old_;
    capped.rlim_cur = bytes;
    ok_ = setrlimit(RLIMIT_FSIZE, &capped) == 0;
  }
  ~file_size_cap() {
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit old_{};
  void (*old_handler_)(int) = nullptr;
  bool ok_ = false;
};

TEST_F(AtomicFile, WriterFailingMidFileLeavesTheOldContentIntact) {
  const std::string path = file("ckpt");
  ASSERT_TRUE(write_file_atomically(path, "old checkpoint").ok());
  result<bool> r = true;
  {
    file_size_cap cap(1000);
    ASSERT_TRUE(cap.ok());
    r = write_file_atomically(path, std::string(4000, 'n'));
  }
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot write"), std::string::npos) << r.error();
  EXPECT_EQ(*read_file(path), "old checkpoint");
  EXPECT_EQ(listing(), std::vector<std::string>{"ckpt"});
}

TEST_F(AtomicFile, ReadingAMissingFileIsAnError) {
  const auto r = read_file(file("nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("nope"), std::string::npos) << r.error();
}

TEST_F(AtomicFile, TruncateCutsBackToTheCheckpointedLength) {
  const std::string path = file("rounds.csv");
  ASSERT_TRUE(write_file_atomically(path, "round,acc\n1,0.5\n2,0.6\n").ok());
  ASSERT_TRUE(truncate_file(path, 16).ok());
  EXPECT_EQ(*read_file(path), "round,acc\n1,0.5\n");
  EXPECT_FALSE(truncate_file(file("missing.csv"), 0).ok());
}

TEST(Sealed, RoundTripsAnyPayload) {
  for (const std::string& payload : {std::string(), std::string("x"), all_bytes()}) {
    const std::string sealed = seal(payload);
    EXPECT_EQ(sealed.size(), sealed_header_bytes + payload.size());
    EXPECT_EQ(sealed.substr(0, 8), "BAFFLECK");
    const auto back = unseal(sealed);
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_EQ(*back, payload);
  }
}

TEST(Sealed, HeaderLayoutIsLittleEndian) {
  const std::string sealed = seal("abc");
  EXPECT_EQ(sealed.substr(8, 4), std::string("\x01\0\0\0", 4));           // version 1
  EXPECT_EQ(sealed.substr(12, 8), std::string("\x03\0\0\0\0\0\0\0", 8));  // 3 bytes
  EXPECT_EQ(sealed.substr(20, 4), std::string("\xc2\x41\x24\x35", 4));    // crc32("abc")
}

TEST(Sealed, RejectsEverySingleByteCorruption) {
  const std::string intact = seal("round 7: weights and optimizer state");
  for (size_t i = 0; i < intact.size(); ++i) {
    for (int flip : {0x01, 0x80, 0xff}) {
      std::string bad = intact;
      bad[i] = char(uint8_t(bad[i]) ^ flip);
      EXPECT_FALSE(unseal(bad).ok()) << "byte " << i << " xor " << flip;
    }
  }
}

TEST(Sealed, RejectsEveryTruncationAndTrailingBytes) {
  const std::string intact = seal("round 7: weights and optimizer state");
  for (size_t n = 0; n < intact.size(); ++n) {
    const auto r = unseal(std::string_view(intact).substr(0, n));
    ASSERT_FALSE(r.ok()) << "accepted the first " << n << " bytes";
    EXPECT_NE(r.error().find("truncated"), std::string::npos) << n << ": " << r.error();
  }
  const auto r = unseal(intact + "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("trailing bytes"), std::string::npos) << r.error();
}

TEST(Sealed, ErrorsSayWhatIsWrong) {
  const std::string intact = seal("payload");
  const auto error_after = [&](size_t offset, int flip) {
    std::string bad = intact;
    bad[offset] = char(uint8_t(bad[offset]) ^ flip);
    return unseal(bad).error();
  };
  EXPECT_NE(error_after(0, 0x01).find("bad magic"), std::string::npos);
  EXPECT_NE(error_after(8, 0x01).find("unsupported format version"), std::string::npos);
  EXPECT_NE(error_after(12, 0x08).find("truncated"), std::string::npos);       // size 7 -> 15
  EXPECT_NE(error_after(12, 0x01).find("trailing bytes"), std::string::npos);  // size 7 -> 6
  EXPECT_NE(error_after(20, 0x01).find("CRC mismatch"), std::string::npos);
  EXPECT_NE(error_after(sealed_header_bytes, 0x01).find("CRC mismatch"), std::string::npos);
}

}  // namespace
}  // namespace baffle
