// Synthetic image classification data sets generated from a seed: a random linear teacher on
// uniform noise images, or one Gaussian blob per class. They fill the same `dataset` struct as
// MNIST (one channel, bytes), so the rest of the pipeline runs on them unchanged.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "models/dataset.hpp"
#include "models/enum_names.hpp"
#include "models/result.hpp"

namespace baffle {

/// What to generate. Images are image_size x image_size, one channel, bytes.
///
/// kind "teacher": every pixel uniform in 0..255; the label is argmax_c w_c . (2 x - 255) with
///   w_1..w_classes fixed random directions from the seed (orthonormalised when classes <= pixels,
///   so every class is about equally likely), rounded to integers of at most 2047 in size so the
///   scores are exact integers; ties go to the lower class. A linear model can fit
///   it exactly, so an MLP can learn it. noise in [0, 1] is label noise: with probability noise an
///   image's label is replaced by a uniformly random class (which may be the teacher's own), so the
///   best possible accuracy is 1 - noise * (classes - 1) / classes.
/// kind "mixture": labels uniform over the classes; class c has a mean image with every pixel
///   uniform in 0..255 (from the seed), and an image of class c is that mean plus independent
///   N(0, (255 * noise)^2) per pixel, rounded and clipped to 0..255. noise >= 0 is the standard
///   deviation in units of the full intensity range (0.1 = 25.5 grey levels). With hundreds of
///   pixels the classes stay well apart unless noise is of order 1 or more.
enum class synthetic_kind { teacher, mixture };

template <>
struct enum_names<synthetic_kind> {
  static constexpr std::array<std::pair<synthetic_kind, std::string_view>, 2> table = {{
      {synthetic_kind::teacher, "teacher"},
      {synthetic_kind::mixture, "mixture"},
  }};
};

struct synthetic_spec {
  synthetic_kind kind = synthetic_kind::teacher;
  int64_t train = 10000;         ///< training images, >= 1
  int64_t test = 2000;           ///< test images, >= 1
  int image_size = 28;           ///< rows = cols, 1..256
  int classes = 10;              ///< 2..256
  uint64_t seed = 1;
  double noise = 0.1;  ///< teacher: label-flip probability; mixture: pixel stddev / 255
  auto operator<=>(const synthetic_spec&) const = default;
};

/// Generates the training and test sets of s. Deterministic in s: image i of a split depends only
/// on (seed, kind, split, i, image_size, classes, noise), never on generation order or on the
/// other split's size, so a larger `train` extends a smaller one. Errors name the bad field, its
/// value and what is allowed.
///
/// Streams (stream_id{sub, purpose::init, id} with sub = derive_seed(seed, purpose::init, tag)):
/// tag 0 the model (teacher directions or class means, id = class), tags 1 / 2 the pixels of the
/// train / test images (id = image), tags 3 / 4 their labels (teacher: id 0 flip draws, id 1
/// replacement classes; mixture: id 0 classes; draw index = image).
result<train_test> make_synthetic(const synthetic_spec& s);

}  // namespace baffle
