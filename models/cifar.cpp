// CIFAR-10 binary batches into datasets: sizes are checked against whole records before anything
// is read, and a subset reads only the records it keeps.
#include "models/cifar.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

namespace baffle {
namespace {

namespace fs = std::filesystem;

constexpr int cifar_classes = 10;
constexpr int64_t cifar_image_bytes = cifar_record_bytes - 1;

const std::vector<std::string> train_files = {"data_batch_1.bin", "data_batch_2.bin",
                                              "data_batch_3.bin", "data_batch_4.bin",
                                              "data_batch_5.bin"};
const std::vector<std::string> test_files = {"test_batch.bin"};

std::string expected_files() {
  return "data_batch_1.bin .. data_batch_5.bin and test_batch.bin, the contents of "
         "cifar-10-batches-bin from the binary version cifar-10-binary.tar.gz";
}

/// A batch file and how many whole records it holds.
struct batch_file {
  std::string path;
  int64_t records = 0;
};

/// Checks that dir/name exists and is a whole, non-zero number of records.
result<batch_file> inspect(const std::string& dir, const std::string& name) {
  const fs::path p = fs::path(dir) / name;
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) {
    return error_message{"CIFAR-10 folder " + dir + ": " + name + " not found (expected " +
                         expected_files() + ")"};
  }
  const uintmax_t size = fs::file_size(p, ec);
  if (ec) return error_message{"CIFAR-10 file " + p.string() + ": cannot read its size"};
  if (size == 0) {
    return error_message{"CIFAR-10 file " + p.string() + " is empty; download it again"};
  }
  const int64_t whole = int64_t(size / cifar_record_bytes);
  const int64_t tail = int64_t(size % cifar_record_bytes);
  if (tail != 0) {
    return error_message{"CIFAR-10 file " + p.string() + " is truncated: " + std::to_string(size) +
                         " bytes is not a whole number of " + std::to_string(cifar_record_bytes) +
                         "-byte records; record " + std::to_string(whole) +
                         " (counting from 0) has only " + std::to_string(tail) +
                         " bytes. Download it again"};
  }
  return batch_file{p.string(), whole};
}

/// Reads the first `keep` records of f into d at image offset `first`.
result<bool> read_records(const batch_file& f, int64_t keep, int64_t first, dataset& d) {
  std::ifstream in(f.path, std::ios::binary);
  std::vector<char> buffer(size_t(keep * cifar_record_bytes));
  if (!in || !in.read(buffer.data(), std::streamsize(buffer.size()))) {
    return error_message{"CIFAR-10 file " + f.path + ": could not read " + std::to_string(keep) +
                         " records"};
  }
  for (int64_t r = 0; r < keep; ++r) {
    const char* record = buffer.data() + r * cifar_record_bytes;
    const uint8_t label = uint8_t(record[0]);
    if (label >= cifar_classes) {
      return error_message{"CIFAR-10 file " + f.path + ": label " + std::to_string(label) +
                           " of record " + std::to_string(r) + " is not below the " +
                           std::to_string(cifar_classes) + " classes"};
    }
    d.labels[size_t(first + r)] = label;
    std::copy(record + 1, record + cifar_record_bytes,
              d.pixels.begin() + (first + r) * cifar_image_bytes);
  }
  return true;
}

/// One split from its files in order, keeping the first `subset` records when subset > 0.
result<dataset> load_split(const std::vector<batch_file>& files, int64_t subset) {
  int64_t stored = 0;
  for (const batch_file& f : files) stored += f.records;
  const int64_t count = subset > 0 ? std::min(subset, stored) : stored;
  dataset d;
  d.count = count;
  d.rows = d.cols = cifar_side;
  d.channels = cifar_channels;
  d.num_classes = cifar_classes;
  d.pixels.resize(size_t(count * cifar_image_bytes));  // (count, channels, rows, cols)
  d.labels.resize(size_t(count));
  int64_t done = 0;
  for (const batch_file& f : files) {
    if (done == count) break;
    const int64_t keep = std::min(f.records, count - done);
    if (auto read = read_records(f, keep, done, d); !read) return error_message{read.error()};
    done += keep;
  }
  return d;
}

}  // namespace

result<color_train_test> load_cifar10_folder(const std::string& dir, int64_t train_subset,
                                             int64_t test_subset) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return error_message{"CIFAR-10 folder " + dir + " not found (expected " + expected_files() +
                         ")"};
  }
  // Every file is checked before any is read, so a broken download fails the same way whatever
  // the subsets are.
  std::vector<batch_file> train, test;
  for (const std::string& name : train_files) {
    auto f = inspect(dir, name);
    if (!f) return error_message{f.error()};
    train.push_back(*f);
  }
  for (const std::string& name : test_files) {
    auto f = inspect(dir, name);
    if (!f) return error_message{f.error()};
    test.push_back(*f);
  }
  auto train_set = load_split(train, train_subset);
  if (!train_set) return error_message{train_set.error()};
  auto test_set = load_split(test, test_subset);
  if (!test_set) return error_message{test_set.error()};
  return color_train_test{std::move(*train_set), std::move(*test_set), cifar_channels};
}

}  // namespace baffle
