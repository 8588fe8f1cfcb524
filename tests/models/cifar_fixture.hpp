// Small generated CIFAR-10 binary folders for tests: records whose label and pixels are a known
// function of a global image number, written as data_batch_1..5.bin and test_batch.bin.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace baffle::cifar_fixture {

/// Pixel (channel, row, col) of global image i, distinct across channels for the same i.
inline uint8_t fake_pixel(int64_t i, int channel, int row, int col) {
  return uint8_t(i * 7 + channel * 101 + row * 3 + col);
}

inline uint8_t fake_label(int64_t i) {
  return uint8_t((i * 3) % 10);
}

/// Records first .. first + count - 1, as CIFAR stores them: label, then R, G, B planes.
inline std::vector<char> fake_records(int64_t first, int64_t count) {
  std::vector<char> bytes;
  for (int64_t i = first; i < first + count; ++i) {
    bytes.push_back(char(fake_label(i)));
    for (int c = 0; c < 3; ++c) {
      for (int r = 0; r < 32; ++r) {
        for (int x = 0; x < 32; ++x) bytes.push_back(char(fake_pixel(i, c, r, x)));
      }
    }
  }
  return bytes;
}

inline void write_bytes(const std::filesystem::path& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

/// Global number of the first test image (the training images are 0, 1, ...).
inline constexpr int64_t first_test_image = 100;

/// Writes a CIFAR-10 binary folder into dir (which must exist): five training batches of
/// per_batch records (global images 0 .. 5 * per_batch - 1, in order) and a test batch of `test`
/// records (first_test_image onwards).
inline void write_fake_cifar(const std::filesystem::path& dir, int64_t per_batch = 3,
                             int64_t test = 4) {
  for (int b = 0; b < 5; ++b) {
    write_bytes(dir / ("data_batch_" + std::to_string(b + 1) + ".bin"),
                fake_records(b * per_batch, per_batch));
  }
  write_bytes(dir / "test_batch.bin", fake_records(first_test_image, test));
}

}  // namespace baffle::cifar_fixture
