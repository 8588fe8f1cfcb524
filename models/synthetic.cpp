// Generation of the synthetic data sets. Every image draws from its own Philox stream and the
// teacher scores are exact integer sums, so any image can be regenerated alone, in any order, with
// the same bytes on every machine.
#include "models/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "models/normal.hpp"
#include "models/philox.hpp"

namespace baffle {
namespace {

/// Sub-seed tags under derive_seed(seed, purpose::init, tag); fixed, as changing one changes data.
constexpr uint64_t model_tag = 0;
constexpr uint64_t pixels_tag[2] = {1, 2};  // train, test
constexpr uint64_t labels_tag[2] = {3, 4};  // train, test

/// The largest |teacher weight| after quantisation to integers. Small enough that a chunk of
/// score_chunk products (each at most 255 * 2047 in size) sums exactly in int32, so the scores are
/// exact integers computed with vector multiply-adds.
constexpr double teacher_weight_scale = 2047.0;
constexpr size_t score_chunk = 4096;

// 65536 pixels at most: the teacher's Gram-Schmidt costs pixels * classes^2.
constexpr int max_image_size = 256;
constexpr int max_classes = 256;  // labels are bytes

/// The first problem with s, naming the field, its value and what is allowed; empty if none.
std::string validate(const synthetic_spec& s) {
  const std::string where = "synthetic data set: ";
  const int64_t max_count = std::numeric_limits<uint32_t>::max();
  for (const auto& [name, value] : {std::pair{"train", s.train}, std::pair{"test", s.test}}) {
    if (value < 1 || value > max_count) {
      return where + name + " = " + std::to_string(value) + " is out of range; use a count from " +
             "1 to " + std::to_string(max_count);
    }
  }
  if (s.image_size < 1 || s.image_size > max_image_size) {
    return where + "image_size = " + std::to_string(s.image_size) + " is out of range; use 1 to " +
           std::to_string(max_image_size) + " (rows = cols)";
  }
  if (s.classes < 2 || s.classes > max_classes) {
    return where + "classes = " + std::to_string(s.classes) + " is out of range; use 2 to " +
           std::to_string(max_classes);
  }
  if (s.kind == synthetic_kind::teacher && !(s.noise >= 0 && s.noise <= 1)) {
    return where + "noise = " + std::to_string(s.noise) + " is not a probability; for kind " +
           "\"teacher\" it is the label-flip probability, from 0 to 1";
  }
  if (s.kind == synthetic_kind::mixture && !(s.noise >= 0 && std::isfinite(s.noise))) {
    return where + "noise = " + std::to_string(s.noise) + " is not allowed; for kind " +
           "\"mixture\" it is the pixel standard deviation / 255, a finite number >= 0";
  }
  return "";
}

/// out: (features) bytes, uniform in 0..255: byte j is byte j % 4 (little end first) of word j / 4
/// of stream s. The vector Philox of normal.hpp gives fill_u32's words bit for bit, much faster.
void uniform_bytes(const stream_id& s, std::span<uint32_t> words, std::span<uint8_t> out) {
  detail::fill_u32_fast(s, 0, words);
  for (size_t j = 0; j < out.size(); ++j) out[j] = uint8_t(words[j / 4] >> (8 * (j % 4)));
}

/// w: (classes, features) int16. Rows uniform in [-1/2, 1/2)^features, orthonormalised by modified
/// Gram-Schmidt in double (a row left without a direction of its own keeps its normalised draw),
/// then all scaled by one factor so the largest |weight| is teacher_weight_scale, and rounded.
std::vector<int16_t> teacher_weights(uint64_t model_seed, int classes, size_t features) {
  std::vector<double> q(size_t(classes) * features);
  for (int c = 0; c < classes; ++c) {
    const stream_id s{model_seed, purpose::init, uint32_t(c)};
    double* row = q.data() + size_t(c) * features;
    for (size_t j = 0; j < features; ++j) row[j] = uniform01(s, j) - 0.5;
    std::vector<double> drawn(row, row + features);
    for (int k = 0; k < c; ++k) {
      const double* other = q.data() + size_t(k) * features;
      double dot = 0;
      for (size_t j = 0; j < features; ++j) dot += row[j] * other[j];
      for (size_t j = 0; j < features; ++j) row[j] -= dot * other[j];
    }
    double norm = 0, drawn_norm = 0;
    for (size_t j = 0; j < features; ++j) {
      norm += row[j] * row[j];
      drawn_norm += drawn[j] * drawn[j];
    }
    // Relative tolerance: with classes > features later rows have nothing left but rounding.
    if (!(norm > 1e-12 * drawn_norm)) {
      std::copy(drawn.begin(), drawn.end(), row);
      norm = drawn_norm;
    }
    const double inv = norm > 0 ? 1 / std::sqrt(norm) : 0;
    for (size_t j = 0; j < features; ++j) row[j] *= inv;
  }
  double largest = 0;
  for (double v : q) largest = std::max(largest, std::abs(v));
  const double scale = largest > 0 ? teacher_weight_scale / largest : 0;
  std::vector<int16_t> w(q.size());
  for (size_t i = 0; i < q.size(); ++i) w[i] = int16_t(std::llround(q[i] * scale));
  return w;
}

/// The teacher's class for pixels x: argmax_c w_c . (2 x - 255), the lowest c on ties. Integer
/// arithmetic, so the answer does not depend on summation order. z is scratch of x's size.
uint8_t teacher_label(std::span<const int16_t> w, int classes, std::span<const uint8_t> x,
                      std::span<int16_t> z) {
  const size_t features = x.size();
  for (size_t j = 0; j < features; ++j) z[j] = int16_t(2 * x[j] - 255);
  int best = 0;
  int64_t best_score = std::numeric_limits<int64_t>::min();
  for (int c = 0; c < classes; ++c) {
    const int16_t* row = w.data() + size_t(c) * features;
    int64_t score = 0;
    for (size_t begin = 0; begin < features; begin += score_chunk) {
      const size_t end = std::min(features, begin + score_chunk);
      int32_t partial = 0;  // exact: see teacher_weight_scale
      for (size_t j = begin; j < end; ++j) partial += int32_t(row[j]) * int32_t(z[j]);
      score += partial;
    }
    if (score > best_score) {
      best_score = score;
      best = c;
    }
  }
  return uint8_t(best);
}

/// One split of kind "teacher"; split 0 = train, 1 = test.
dataset make_teacher_split(const synthetic_spec& s, std::span<const int16_t> w, int split,
                           int64_t count) {
  const size_t features = size_t(s.image_size) * s.image_size;
  dataset d;
  d.count = count;
  d.rows = d.cols = s.image_size;
  d.num_classes = s.classes;
  d.pixels.resize(size_t(count) * features);
  d.labels.resize(size_t(count));
  const uint64_t pixel_seed = derive_seed(s.seed, purpose::init, pixels_tag[split]);
  const uint64_t label_seed = derive_seed(s.seed, purpose::init, labels_tag[split]);
  const stream_id flip{label_seed, purpose::init, 0};
  const stream_id replacement{label_seed, purpose::init, 1};
  std::vector<uint32_t> words((features + 3) / 4);
  std::vector<int16_t> z(features);
  for (int64_t i = 0; i < count; ++i) {
    const std::span<uint8_t> x(d.pixels.data() + size_t(i) * features, features);
    uniform_bytes(stream_id{pixel_seed, purpose::init, uint32_t(i)}, words, x);
    uint8_t label = teacher_label(w, s.classes, x, z);
    if (s.noise > 0 && uniform01(flip, uint64_t(i)) < s.noise) {
      label = uint8_t(uniform_below(replacement, uint64_t(i), uint64_t(s.classes)));
    }
    d.labels[size_t(i)] = label;
  }
  return d;
}

/// One split of kind "mixture"; means: (classes, features) bytes; split 0 = train, 1 = test.
dataset make_mixture_split(const synthetic_spec& s, std::span<const uint8_t> means, int split,
                           int64_t count) {
  const size_t features = size_t(s.image_size) * s.image_size;
  dataset d;
  d.count = count;
  d.rows = d.cols = s.image_size;
  d.num_classes = s.classes;
  d.pixels.resize(size_t(count) * features);
  d.labels.resize(size_t(count));
  const uint64_t pixel_seed = derive_seed(s.seed, purpose::init, pixels_tag[split]);
  const stream_id classes{derive_seed(s.seed, purpose::init, labels_tag[split]), purpose::init, 0};
  const float stddev = float(255 * s.noise);  // grey levels
  std::vector<float> eps(features);
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t label = uint8_t(uniform_below(classes, uint64_t(i), uint64_t(s.classes)));
    d.labels[size_t(i)] = label;
    fill_normal(stream_id{pixel_seed, purpose::init, uint32_t(i)}, 0, eps);
    const uint8_t* mean = means.data() + size_t(label) * features;
    uint8_t* x = d.pixels.data() + size_t(i) * features;
    for (size_t j = 0; j < features; ++j) {
      // One float multiply and one add (no FMA: -ffp-contract=off), then round half up.
      const float v = std::clamp(float(mean[j]) + stddev * eps[j], 0.f, 255.f);
      x[j] = uint8_t(v + 0.5f);
    }
  }
  return d;
}

}  // namespace

result<train_test> make_synthetic(const synthetic_spec& s) {
  if (std::string problem = validate(s); !problem.empty()) return error_message{problem};
  const size_t features = size_t(s.image_size) * s.image_size;
  const uint64_t model_seed = derive_seed(s.seed, purpose::init, model_tag);
  if (s.kind == synthetic_kind::teacher) {
    const std::vector<int16_t> w = teacher_weights(model_seed, s.classes, features);
    return train_test{make_teacher_split(s, w, 0, s.train), make_teacher_split(s, w, 1, s.test)};
  }
  std::vector<uint8_t> means(size_t(s.classes) * features);  // (classes, features)
  for (int c = 0; c < s.classes; ++c) {
    const stream_id stream{model_seed, purpose::init, uint32_t(c)};
    for (size_t j = 0; j < features; ++j) {
      means[size_t(c) * features + j] = uint8_t(uniform_below(stream, j, 256));
    }
  }
  return train_test{make_mixture_split(s, means, 0, s.train),
                    make_mixture_split(s, means, 1, s.test)};
}

}  // namespace baffle
