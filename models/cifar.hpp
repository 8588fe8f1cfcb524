// Loading the binary version of CIFAR-10 (32x32 colour images, 10 classes) into the byte
// `dataset` struct, with the colour planes kept channels-first and the channel count returned
// beside the data sets, since `dataset` itself describes one-channel images.
#pragma once

#include <cstdint>
#include <string>

#include "models/dataset.hpp"
#include "models/result.hpp"

namespace baffle {

/// CIFAR-10's record layout: one label byte, then the R, G and B planes of 32x32 bytes each.
inline constexpr int cifar_channels = 3;
inline constexpr int cifar_side = 32;
inline constexpr int64_t cifar_record_bytes = 1 + int64_t(cifar_channels) * cifar_side * cifar_side;

/// Colour training and test sets: rows = cols = 32, channels = 3, pixels (count, channels, rows,
/// cols) with the R plane first as in the CIFAR files, so dataset::features() is 3072.
struct color_train_test {
  dataset train;
  dataset test;
  int channels = cifar_channels;
  /// Bytes per image: channels * rows * cols.
  int64_t features() const { return train.features(); }
};

/// Loads the CIFAR-10 binary folder (cifar-10-batches-bin from cifar-10-binary.tar.gz):
/// data_batch_1.bin .. data_batch_5.bin form the training set in that order, test_batch.bin the
/// test set. subset > 0 keeps the first N records of a split (all when N is at least the stored
/// count) and reads no further; subset <= 0 keeps all. All six files must exist. Every file must
/// be a whole number (>= 1) of 3073-byte records and every label below 10; errors name the folder
/// or file, the record and what is wrong.
result<color_train_test> load_cifar10_folder(const std::string& dir, int64_t train_subset,
                                             int64_t test_subset);

}  // namespace baffle
