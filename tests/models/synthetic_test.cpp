// Tests of the synthetic data sets: shapes, determinism and independence of generation order,
// class balance, that the teacher task is learnable and its label noise is as asked, the mixture's
// pixel spread, and the errors for bad specs.
#include "models/synthetic.hpp"

#include "models/philox.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace baffle {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

synthetic_spec small_spec(const std::string& kind) {
  synthetic_spec s;
  s.kind = *parse_name<synthetic_kind>(kind);
  s.train = 300;
  s.test = 100;
  s.image_size = 8;
  s.classes = 5;
  s.seed = 42;
  return s;
}

train_test generate(const synthetic_spec& s) {
  auto r = make_synthetic(s);
  EXPECT_TRUE(r.ok()) << r.error();
  return r.ok() ? std::move(*r) : train_test{};
}

std::vector<int64_t> class_counts(const dataset& d) {
  std::vector<int64_t> counts(size_t(d.num_classes), 0);
  for (uint8_t l : d.labels) ++counts.at(l);
  return counts;
}

/// m: (classes, features) mean of (2 pixel - 255) per class over d.
std::vector<double> centred_class_means(const dataset& d) {
  const size_t features = size_t(d.features());
  std::vector<double> m(size_t(d.num_classes) * features, 0);
  const std::vector<int64_t> counts = class_counts(d);
  for (int64_t i = 0; i < d.count; ++i) {
    const uint8_t* x = d.pixels.data() + size_t(i) * features;
    double* row = m.data() + size_t(d.labels[size_t(i)]) * features;
    for (size_t j = 0; j < features; ++j) row[j] += 2.0 * x[j] - 255;
  }
  for (int c = 0; c < d.num_classes; ++c) {
    for (size_t j = 0; j < features; ++j) m[size_t(c) * features + j] /= double(counts[size_t(c)]);
  }
  return m;
}

/// Accuracy on `test` of the linear readout argmax_c m_c . (2 x - 255), m the train class means.
double class_mean_readout_accuracy(const dataset& train, const dataset& test) {
  const std::vector<double> m = centred_class_means(train);
  const size_t features = size_t(train.features());
  int64_t correct = 0;
  for (int64_t i = 0; i < test.count; ++i) {
    const uint8_t* x = test.pixels.data() + size_t(i) * features;
    int best = 0;
    double best_score = -1e300;
    for (int c = 0; c < train.num_classes; ++c) {
      double score = 0;
      for (size_t j = 0; j < features; ++j)
        score += m[size_t(c) * features + j] * (2.0 * x[j] - 255);
      if (score > best_score) {
        best_score = score;
        best = c;
      }
    }
    correct += best == test.labels[size_t(i)];
  }
  return double(correct) / double(test.count);
}

/// Accuracy on `test` of the nearest class mean (Euclidean) in pixel space.
double nearest_class_mean_accuracy(const dataset& train, const dataset& test) {
  const std::vector<double> m = centred_class_means(train);
  const size_t features = size_t(train.features());
  int64_t correct = 0;
  for (int64_t i = 0; i < test.count; ++i) {
    const uint8_t* x = test.pixels.data() + size_t(i) * features;
    int best = 0;
    double best_distance = 1e300;
    for (int c = 0; c < train.num_classes; ++c) {
      double distance = 0;
      for (size_t j = 0; j < features; ++j) {
        const double d = m[size_t(c) * features + j] - (2.0 * x[j] - 255);
        distance += d * d;
      }
      if (distance < best_distance) {
        best_distance = distance;
        best = c;
      }
    }
    correct += best == test.labels[size_t(i)];
  }
  return double(correct) / double(test.count);
}

uint64_t pixel_sum(const dataset& d) {
  return std::accumulate(d.pixels.begin(), d.pixels.end(), uint64_t(0));
}

TEST(MakeSynthetic, BothKindsHaveTheRequestedShapesAndLabelRange) {
  for (const std::string kind : {"teacher", "mixture"}) {
    SCOPED_TRACE(kind);
    const train_test t = generate(small_spec(kind));
    for (const dataset* d : {&t.train, &t.test}) {
      EXPECT_EQ(d->rows, 8);
      EXPECT_EQ(d->cols, 8);
      EXPECT_EQ(d->features(), 64);
      EXPECT_EQ(d->num_classes, 5);
      EXPECT_EQ(d->pixels.size(), size_t(d->count) * 64);
      EXPECT_EQ(d->labels.size(), size_t(d->count));
      EXPECT_TRUE(std::all_of(d->labels.begin(), d->labels.end(), [](uint8_t l) { return l < 5; }));
    }
    EXPECT_EQ(t.train.count, 300);
    EXPECT_EQ(t.test.count, 100);
  }
}

TEST(MakeSynthetic, OnePixelImagesWithMoreClassesThanPixelsStillGenerate) {
  for (const std::string kind : {"teacher", "mixture"}) {
    SCOPED_TRACE(kind);
    synthetic_spec s = small_spec(kind);
    s.image_size = 1;
    const train_test t = generate(s);
    EXPECT_EQ(t.train.pixels.size(), 300u);
    EXPECT_TRUE(
        std::all_of(t.train.labels.begin(), t.train.labels.end(), [](uint8_t l) { return l < 5; }));
  }
}

TEST(MakeSynthetic, DefaultSpecIsTenClassesOfTwentyEightSquare) {
  const train_test t = generate(synthetic_spec{});
  EXPECT_EQ(t.train.count, 10000);
  EXPECT_EQ(t.test.count, 2000);
  EXPECT_EQ(t.train.rows, 28);
  EXPECT_EQ(t.train.cols, 28);
  EXPECT_EQ(t.train.num_classes, 10);
}

TEST(MakeSynthetic, SameSpecGivesTheSameBytes) {
  for (const std::string kind : {"teacher", "mixture"}) {
    SCOPED_TRACE(kind);
    const train_test a = generate(small_spec(kind));
    const train_test b = generate(small_spec(kind));
    EXPECT_EQ(a.train.pixels, b.train.pixels);
    EXPECT_EQ(a.train.labels, b.train.labels);
    EXPECT_EQ(a.test.pixels, b.test.pixels);
    EXPECT_EQ(a.test.labels, b.test.labels);
  }
}

TEST(MakeSynthetic, AnotherSeedGivesOtherImagesAndLabels) {
  for (const std::string kind : {"teacher", "mixture"}) {
    SCOPED_TRACE(kind);
    synthetic_spec other = small_spec(kind);
    other.seed = 43;
    const train_test a = generate(small_spec(kind));
    const train_test b = generate(other);
    EXPECT_NE(a.train.pixels, b.train.pixels);
    EXPECT_NE(a.train.labels, b.train.labels);
    EXPECT_NE(a.test.pixels, b.test.pixels);
    EXPECT_NE(a.test.labels, b.test.labels);
  }
}

TEST(MakeSynthetic, TrainAndTestImagesComeFromDifferentStreams) {
  for (const std::string kind : {"teacher", "mixture"}) {
    SCOPED_TRACE(kind);
    const train_test t = generate(small_spec(kind));
    EXPECT_FALSE(std::equal(t.test.pixels.begin(), t.test.pixels.end(), t.train.pixels.begin()));
  }
}

TEST(MakeSynthetic, AnImageDependsOnlyOnItsIndexNotOnHowManyAreGenerated) {
  for (const std::string kind : {"teacher", "mixture"}) {
    SCOPED_TRACE(kind);
    synthetic_spec small = small_spec(kind);
    small.train = 40;
    small.test = 1;
    synthetic_spec large = small_spec(kind);
    large.train = 500;
    large.test = 100;
    const train_test a = generate(small);
    const train_test b = generate(large);
    EXPECT_TRUE(std::equal(a.train.pixels.begin(), a.train.pixels.end(), b.train.pixels.begin()));
    EXPECT_TRUE(std::equal(a.train.labels.begin(), a.train.labels.end(), b.train.labels.begin()));
    EXPECT_TRUE(std::equal(a.test.pixels.begin(), a.test.pixels.end(), b.test.pixels.begin()));
    EXPECT_EQ(a.test.labels[0], b.test.labels[0]);
  }
}

TEST(MakeSynthetic, GoldenValuesLockDownTheGenerators) {
  // Recorded from this implementation; a change here changes every synthetic experiment.
  const train_test teacher = generate(small_spec("teacher"));
  EXPECT_EQ(std::vector<uint8_t>(teacher.train.labels.begin(), teacher.train.labels.begin() + 8),
            std::vector<uint8_t>({0, 2, 4, 2, 2, 1, 2, 0}));
  EXPECT_EQ(pixel_sum(teacher.train), 2436883u);
  const train_test mixture = generate(small_spec("mixture"));
  EXPECT_EQ(std::vector<uint8_t>(mixture.train.labels.begin(), mixture.train.labels.begin() + 8),
            std::vector<uint8_t>({3, 2, 2, 4, 4, 3, 3, 4}));
  EXPECT_EQ(pixel_sum(mixture.train), 2553615u);
}

TEST(MakeSynthetic, TeacherPixelsAndMixtureLabelsFollowTheDocumentedStreams) {
  const synthetic_spec s = small_spec("teacher");
  const train_test teacher = generate(s);
  // Test image 5: stream {derive_seed(seed, init, 2), init, 5}, byte j = byte j % 4 of word j / 4.
  std::vector<uint32_t> words(16);
  fill_u32(stream_id{derive_seed(s.seed, purpose::init, 2), purpose::init, 5}, 0, words);
  for (size_t j = 0; j < 64; ++j) {
    EXPECT_EQ(teacher.test.pixels[5 * 64 + j], uint8_t(words[j / 4] >> (8 * (j % 4)))) << j;
  }
  // Mixture training labels: draw i of stream {derive_seed(seed, init, 3), init, 0}.
  const train_test mixture = generate(small_spec("mixture"));
  const stream_id labels{derive_seed(s.seed, purpose::init, 3), purpose::init, 0};
  for (int64_t i = 0; i < mixture.train.count; ++i) {
    EXPECT_EQ(mixture.train.labels[size_t(i)], uniform_below(labels, uint64_t(i), 5)) << i;
  }
}

TEST(MakeSynthetic, TeacherPixelsAreUniformBytes) {
  synthetic_spec s;
  s.train = 2000;
  s.test = 1;
  const train_test t = generate(s);
  std::vector<int64_t> histogram(256, 0);
  for (uint8_t p : t.train.pixels) ++histogram[p];
  const double expected = double(t.train.pixels.size()) / 256;  // 6125 per value
  for (int v = 0; v < 256; ++v) {
    EXPECT_NEAR(double(histogram[size_t(v)]), expected, 6 * std::sqrt(expected)) << "value " << v;
  }
}

TEST(MakeSynthetic, TeacherClassesAreRoughlyBalanced) {
  synthetic_spec s;
  s.noise = 0;
  s.test = 1;
  const train_test t = generate(s);
  // A multinomial count of 10000 over 10 classes has standard deviation 30; the teacher's
  // orthonormal directions leave only a small bias on top.
  for (int64_t n : class_counts(t.train)) {
    EXPECT_GT(n, 800);
    EXPECT_LT(n, 1200);
  }
}

TEST(MakeSynthetic, MixtureClassesAreBalancedWithinSamplingError) {
  synthetic_spec s;
  s.kind = synthetic_kind::mixture;
  s.test = 1;
  const train_test t = generate(s);
  for (int64_t n : class_counts(t.train)) EXPECT_NEAR(double(n), 1000, 150);  // 5 sigma
}

TEST(MakeSynthetic, TeacherTaskIsLearnedByALinearReadoutOfClassMeans) {
  synthetic_spec s;
  s.noise = 0;
  const train_test t = generate(s);
  // Chance is 0.1; the class means point along the teacher's directions.
  const double accuracy = class_mean_readout_accuracy(t.train, t.test);
  EXPECT_GT(accuracy, 0.5) << "accuracy " << accuracy;  // 0.624 as recorded

  // With fewer pixels the same number of images pins the directions down much better.
  s.image_size = 8;
  const train_test small = generate(s);
  const double small_accuracy = class_mean_readout_accuracy(small.train, small.test);
  EXPECT_GT(small_accuracy, 0.8) << "accuracy " << small_accuracy;  // 0.8675 as recorded
}

TEST(MakeSynthetic, TeacherLabelNoiseReplacesTheExpectedFractionAndKeepsThePixels) {
  synthetic_spec clean;
  clean.noise = 0;
  clean.test = 1;
  synthetic_spec noisy = clean;
  noisy.noise = 0.3;
  const train_test a = generate(clean);
  const train_test b = generate(noisy);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  int64_t changed = 0;
  for (size_t i = 0; i < a.train.labels.size(); ++i)
    changed += a.train.labels[i] != b.train.labels[i];
  // A replaced label is uniform, so it differs with probability 0.3 * 9 / 10 = 0.27; sd 0.0044.
  EXPECT_NEAR(double(changed) / double(a.train.count), 0.27, 0.025);
}

TEST(MakeSynthetic, MixtureWithoutNoiseRepeatsOneMeanImagePerClass) {
  synthetic_spec s = small_spec("mixture");
  s.noise = 0;
  const train_test t = generate(s);
  const size_t features = size_t(t.train.features());
  std::vector<const uint8_t*> first(5, nullptr);
  for (int64_t i = 0; i < t.train.count; ++i) {
    const uint8_t* x = t.train.pixels.data() + size_t(i) * features;
    const uint8_t*& seen = first[t.train.labels[size_t(i)]];
    if (!seen) seen = x;
    EXPECT_TRUE(std::equal(x, x + features, seen)) << "image " << i;
  }
  for (int a = 0; a < 5; ++a) {
    for (int b = a + 1; b < 5; ++b) {
      ASSERT_TRUE(first[size_t(a)] && first[size_t(b)]);
      EXPECT_FALSE(std::equal(first[size_t(a)], first[size_t(a)] + features, first[size_t(b)]));
    }
  }
}

TEST(MakeSynthetic, MixtureNoiseIsThePixelStandardDeviationOverTheFullRange) {
  synthetic_spec s = small_spec("mixture");
  s.train = 4000;
  s.noise = 0.05;  // 12.75 grey levels
  const train_test t = generate(s);
  const std::vector<double> m = centred_class_means(t.train);
  const size_t features = size_t(t.train.features());
  double squares = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < t.train.count; ++i) {
    const uint8_t* x = t.train.pixels.data() + size_t(i) * features;
    const double* mean = m.data() + size_t(t.train.labels[size_t(i)]) * features;
    for (size_t j = 0; j < features; ++j) {
      if (std::abs(mean[j]) > 128) continue;  // keep pixels far from clipping
      const double d = (2.0 * x[j] - 255 - mean[j]) / 2;
      squares += d * d;
      ++n;
    }
  }
  ASSERT_GT(n, 10000);
  EXPECT_NEAR(std::sqrt(squares / double(n)), 12.75, 0.3);
}

TEST(MakeSynthetic, MixtureIsSeparableByNearestClassMean) {
  synthetic_spec s;
  s.kind = synthetic_kind::mixture;
  s.train = 2000;
  s.test = 500;
  const train_test t = generate(s);
  EXPECT_GT(nearest_class_mean_accuracy(t.train, t.test), 0.99);
}

TEST(MakeSynthetic, BadSpecsAreErrorsNamingTheField) {
  struct bad_case {
    std::string field;
    synthetic_spec spec;
  };
  std::vector<bad_case> cases;
  auto add = [&](const std::string& field, auto change) {
    synthetic_spec s = small_spec("teacher");
    change(s);
    cases.push_back({field, s});
  };
  add("train = 0", [](synthetic_spec& s) { s.train = 0; });
  add("test = -5", [](synthetic_spec& s) { s.test = -5; });
  add("train = 4294967296", [](synthetic_spec& s) { s.train = int64_t(1) << 32; });
  add("image_size = 0", [](synthetic_spec& s) { s.image_size = 0; });
  add("image_size = 5000", [](synthetic_spec& s) { s.image_size = 5000; });
  add("classes = 1", [](synthetic_spec& s) { s.classes = 1; });
  add("classes = 257", [](synthetic_spec& s) { s.classes = 257; });
  add("noise = 1.5", [](synthetic_spec& s) { s.noise = 1.5; });
  add("noise = -0.1", [](synthetic_spec& s) { s.noise = -0.1; });
  add("noise = -1", [](synthetic_spec& s) {
    s.kind = synthetic_kind::mixture;
    s.noise = -1;
  });
  add("noise = nan", [](synthetic_spec& s) {
    s.kind = synthetic_kind::mixture;
    s.noise = std::nan("");
  });
  add("noise = inf", [](synthetic_spec& s) {
    s.kind = synthetic_kind::mixture;
    s.noise = INFINITY;
  });
  for (const bad_case& c : cases) {
    const auto r = make_synthetic(c.spec);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_TRUE(contains(r.error(), c.field)) << r.error();
  }
}

TEST(MakeSynthetic, MixtureAcceptsNoiseAboveOneAndClipsToBytes) {
  synthetic_spec s = small_spec("mixture");
  s.noise = 3;
  const train_test t = generate(s);
  const auto [lo, hi] = std::minmax_element(t.train.pixels.begin(), t.train.pixels.end());
  EXPECT_EQ(*lo, 0);
  EXPECT_EQ(*hi, 255);
}

}  // namespace
}  // namespace baffle
