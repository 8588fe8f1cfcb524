// Layers: optimised kernels against their naive references on random shapes (printing the first
// mismatch), and every backward pass against central finite differences of a double forward.
#include "models/layers.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "models/compute.hpp"
#include "models/philox.hpp"

namespace baffle {
namespace {

std::vector<float> random_vector(size_t n, uint64_t seed, float scale = 1.f) {
  std::vector<float> v(n);
  const stream_id s{seed, purpose::derive, 7};
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>((2.0 * uniform01(s, i) - 1.0) * scale);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

/// Index of the first element where |a - b| > atol + rtol |b|, or -1; prints it.
int64_t first_mismatch(const float* a, const double* b, int64_t n, double atol, double rtol,
                       const char* what) {
  for (int64_t i = 0; i < n; ++i) {
    const double d = std::fabs(a[i] - b[i]);
    if (!(d <= atol + rtol * std::fabs(b[i]))) {
      ADD_FAILURE() << what << ": first mismatch at " << i << " of " << n << ": got " << a[i]
                    << ", reference " << b[i] << " (|diff| " << d << ")";
      return i;
    }
  }
  return -1;
}

/// Central difference of f along every coordinate of p, in double: f(p + h e_i) - f(p - h e_i) /
/// 2h. With f smooth and computed in double, the error is O(h^2 f''') plus ~1e-16 |f| / h: with h =
/// 1e-5 both sit near 1e-10, far below the float kernels' own ~1e-6 relative error, so the check's
/// tolerance is set by the float kernel under test, not by the difference quotient.
std::vector<double> numeric_grad(const std::function<double(const std::vector<double>&)>& f,
                                 std::vector<double> p, double h = 1e-5) {
  std::vector<double> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const double keep = p[i];
    p[i] = keep + h;
    const double up = f(p);
    p[i] = keep - h;
    const double down = f(p);
    p[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/// sum(w_out * y) for a fixed random projection w_out: a scalar whose gradient wrt y is w_out.
double project(const std::vector<double>& y, const std::vector<double>& w_out) {
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += y[i] * w_out[i];
  return s;
}

/// y = conv2d_forward of the plan on x, w and (if the shape has one) bias, with its own scratch.
std::vector<float> forward_of(const conv2d_forward_plan& plan, const std::vector<float>& x,
                              const std::vector<float>& w, const std::vector<float>& bias) {
  const conv2d_shape& s = plan_shape(plan);
  std::vector<float> y(s.out_count());
  std::vector<std::byte> scratch(conv2d_forward_scratch_bytes(plan) + 64);
  void* aligned =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  conv2d_forward(y.data(), x.data(), w.data(), s.has_bias ? bias.data() : nullptr, plan, aligned);
  return y;
}

class Conv2d : public ::testing::TestWithParam<conv2d_shape> {
 protected:
  void SetUp() override { enter_compute_thread(); }
};

TEST_P(Conv2d, ForwardMatchesNaive) {
  const conv2d_shape s = GetParam();
  conv2d_cache cache;
  const auto& plan = cache.forward(s);
  EXPECT_EQ(&plan, &cache.forward(s)) << "the plan must be cached, not rebuilt";
  const auto x = random_vector(s.in_count(), 1);
  const auto w = random_vector(s.weight_count(), 2, 0.3f);
  const auto bias = random_vector(s.out_channels, 3);
  const std::vector<float> y = forward_of(plan, x, w, bias);
  std::vector<double> ref(s.out_count());
  const auto xd = to_double(x), wd = to_double(w), bd = to_double(bias);
  conv2d_forward_naive(ref.data(), xd.data(), wd.data(), s.has_bias ? bd.data() : nullptr, s);
  // Sums of IC*K*K float products of magnitude <= 0.3: rounding error grows like sqrt(terms) *
  // eps * |terms|; 1e-5 absolute covers up to ~400 terms with margin.
  EXPECT_EQ(first_mismatch(y.data(), ref.data(), s.out_count(), 1e-5, 1e-5,
                           plan_implementation(plan).c_str()),
            -1);
}

TEST_P(Conv2d, BackwardMatchesNaive) {
  const conv2d_shape s = GetParam();
  conv2d_cache cache;
  const auto& plan = cache.backward(s);
  const auto x = random_vector(s.in_count(), 4);
  const auto w = random_vector(s.weight_count(), 5, 0.3f);
  const auto dy = random_vector(s.out_count(), 6);
  std::vector<float> dx(s.in_count()), dw(s.weight_count()), db(s.out_channels);
  std::vector<std::byte> scratch(conv2d_backward_scratch_bytes(plan) + 64);
  void* aligned =
      reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  conv2d_backward(dx.data(), dw.data(), s.has_bias ? db.data() : nullptr, dy.data(), x.data(),
                  w.data(), plan, aligned);
  std::vector<double> rdx(s.in_count()), rdw(s.weight_count()), rdb(s.out_channels);
  const auto xd = to_double(x), wd = to_double(w), dyd = to_double(dy);
  conv2d_backward_naive(rdx.data(), rdw.data(), rdb.data(), dyd.data(), xd.data(), wd.data(), s);
  // dw sums B*OH*OW products of magnitude <= 1: a few hundred to a few thousand terms.
  EXPECT_EQ(first_mismatch(dx.data(), rdx.data(), s.in_count(), 1e-5, 1e-5, "dx"), -1);
  EXPECT_EQ(first_mismatch(dw.data(), rdw.data(), s.weight_count(), 1e-4, 1e-5, "dw"), -1);
  if (s.has_bias) {
    EXPECT_EQ(first_mismatch(db.data(), rdb.data(), s.out_channels, 1e-4, 1e-5, "db"), -1);
  }
}

TEST_P(Conv2d, NaiveBackwardMatchesFiniteDifferences) {
  conv2d_shape s = GetParam();
  s.batch = 1;  // the difference quotient costs one forward per coordinate
  if (s.in_channels * s.out_channels > 64) GTEST_SKIP() << "small shapes only";
  const auto x = to_double(random_vector(s.in_count(), 7));
  const auto w = to_double(random_vector(s.weight_count(), 8, 0.3f));
  const auto bias = to_double(random_vector(s.out_channels, 9));
  const auto proj = to_double(random_vector(s.out_count(), 10));
  std::vector<double> dx(s.in_count()), dw(s.weight_count()), db(s.out_channels);
  conv2d_backward_naive(dx.data(), dw.data(), db.data(), proj.data(), x.data(), w.data(), s);
  auto f = [&](const std::vector<double>& xx, const std::vector<double>& ww,
               const std::vector<double>& bb) {
    std::vector<double> y(s.out_count());
    conv2d_forward_naive(y.data(), xx.data(), ww.data(), s.has_bias ? bb.data() : nullptr, s);
    return project(y, proj);
  };
  const auto nx = numeric_grad([&](const auto& v) { return f(v, w, bias); }, x);
  const auto nw = numeric_grad([&](const auto& v) { return f(x, v, bias); }, w);
  // The conv is linear in x and in w, so the central difference has no truncation error; only
  // rounding of f (a sum of ~1e3 products, ~1e-13) divided by h = 1e-5 remains: ~1e-8.
  const double tol = 1e-7;
  for (size_t i = 0; i < nx.size(); ++i) ASSERT_NEAR(dx[i], nx[i], tol) << "dx " << i;
  for (size_t i = 0; i < nw.size(); ++i) ASSERT_NEAR(dw[i], nw[i], tol) << "dw " << i;
  if (s.has_bias) {
    const auto nb = numeric_grad([&](const auto& v) { return f(x, w, v); }, bias);
    for (size_t i = 0; i < nb.size(); ++i) ASSERT_NEAR(db[i], nb[i], tol) << "db " << i;
  }
}

// batch, in, out, H, W, kernel, stride, padding, bias
INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2d,
    ::testing::Values(conv2d_shape{4, 1, 16, 32, 32, 5, 1, 2, true},   // LeNet conv1
                      conv2d_shape{4, 16, 64, 16, 16, 5, 1, 2, true},  // LeNet conv2
                      conv2d_shape{3, 3, 8, 11, 9, 3, 2, 1, true},     // odd sizes, stride 2
                      conv2d_shape{2, 5, 7, 8, 8, 1, 1, 0, false},     // 1x1, no bias
                      conv2d_shape{2, 2, 3, 7, 7, 4, 3, 2, true},      // overhanging last window
                      conv2d_shape{1, 4, 4, 6, 6, 3, 1, 0, false},     // valid conv
                      conv2d_shape{5, 32, 32, 8, 8, 3, 1, 1, true}));  // blocked channels

/// Low-precision convolutions (and linear layers as 1x1 convolutions) against the naive
/// reference on the same converted values.
class Conv2dLowPrecision
    : public ::testing::TestWithParam<std::tuple<conv2d_shape, forward_precision>> {
 protected:
  void SetUp() override { enter_compute_thread(); }
};

TEST_P(Conv2dLowPrecision, ForwardMatchesNaiveOnTheConvertedValues) {
  const auto [s, p] = GetParam();
  conv2d_cache cache;
  const auto& plan = cache.forward(s, p);
  EXPECT_EQ(plan_precision(plan), p);
  EXPECT_NE(&plan, &cache.forward(s)) << "f32 and low-precision plans are distinct";
  const auto x = random_vector(s.in_count(), 11);
  const auto w = random_vector(s.weight_count(), 12, 0.3f);
  const auto bias = random_vector(s.out_channels, 13);
  const std::vector<float> y = forward_of(plan, x, w, bias);
  std::vector<double> ref(s.out_count()), exact(s.out_count());
  conv2d_forward_lowp_naive(ref.data(), x.data(), w.data(), s.has_bias ? bias.data() : nullptr, s,
                            p);
  // bf16: products of 8-bit significands are exact in f32, so only the f32 accumulation of up to
  // IC*K*K = 400 terms of magnitude <= 0.3 errs (as for f32, 1e-5). int8: the integer sums are
  // exact; the f32 epilogue (one multiply, one add) adds about one float ulp.
  const double tol = p == forward_precision::bf16 ? 1e-5 : 2e-6;
  EXPECT_EQ(first_mismatch(y.data(), ref.data(), s.out_count(), tol, tol,
                           plan_implementation(plan).c_str()),
            -1);
  // And the conversion really happened: the result is not the f32 convolution.
  conv2d_forward_lowp_naive(exact.data(), x.data(), w.data(), s.has_bias ? bias.data() : nullptr, s,
                            forward_precision::f32);
  double largest = 0;
  for (int64_t i = 0; i < s.out_count(); ++i)
    largest = std::max(largest, std::fabs(y[i] - exact[i]));
  EXPECT_GT(largest, 1e-4) << plan_implementation(plan);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2dLowPrecision,
    ::testing::Combine(
        ::testing::Values(conv2d_shape{4, 1, 16, 32, 32, 5, 1, 2, true},   // LeNet conv1
                          conv2d_shape{4, 16, 64, 16, 16, 5, 1, 2, true},  // LeNet conv2
                          conv2d_shape{3, 3, 8, 11, 9, 3, 2, 1, true},     // odd sizes, stride 2
                          conv2d_shape{2, 5, 7, 8, 8, 1, 1, 0, false},     // 1x1, no bias
                          conv2d_shape{5, 32, 32, 8, 8, 3, 1, 1, true},    // blocked channels
                          linear_shape(32, 784, 32),                       // MLP layer
                          linear_shape(7, 64, 10)),                        // LeNet head
        ::testing::Values(forward_precision::bf16, forward_precision::int8)),
    [](const auto& info) {
      const conv2d_shape& s = std::get<0>(info.param);
      return std::to_string(s.batch) + "x" + std::to_string(s.in_channels) + "x" +
             std::to_string(s.height) + "_to_" + std::to_string(s.out_channels) + "_k" +
             std::to_string(s.kernel) + "_" + std::string(name_of(std::get<1>(info.param)));
    });

TEST(GroupNorm, ForwardMatchesNaive) {
  for (const auto& s : {group_norm_shape{3, 16, 4, 49}, group_norm_shape{2, 6, 3, 5},
                        group_norm_shape{2, 8, 1, 17}, group_norm_shape{2, 8, 8, 9}}) {
    for (bool affine : {false, true}) {
      const int64_t n = static_cast<int64_t>(s.batch) * s.channels * s.hw;
      // Offset inputs: the two-pass variance must not cancel.
      auto x = random_vector(n, 11, 2.f);
      for (auto& v : x) v += 3.f;
      const auto gamma = random_vector(s.channels, 12), beta = random_vector(s.channels, 13);
      std::vector<float> y(n), mean(s.batch * s.groups), rstd(s.batch * s.groups);
      group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(),
                         affine ? gamma.data() : nullptr, affine ? beta.data() : nullptr, s);
      std::vector<double> ref(n);
      const auto xd = to_double(x), gd = to_double(gamma), bd = to_double(beta);
      group_norm_forward_naive(ref.data(), xd.data(), affine ? gd.data() : nullptr,
                               affine ? bd.data() : nullptr, s);
      // Normalised values are O(1); float statistics over <= 800 values are good to ~1e-6.
      EXPECT_EQ(first_mismatch(y.data(), ref.data(), n, 1e-5, 1e-5, "group norm"), -1);
    }
  }
}

TEST(GroupNorm, BackwardMatchesFiniteDifferences) {
  const group_norm_shape s{2, 6, 3, 5};
  const int64_t n = static_cast<int64_t>(s.batch) * s.channels * s.hw;
  for (bool affine : {false, true}) {
    const auto x = random_vector(n, 14, 2.f);
    const auto gamma = random_vector(s.channels, 15), beta = random_vector(s.channels, 16);
    const auto proj = random_vector(n, 17);
    std::vector<float> y(n), mean(s.batch * s.groups), rstd(s.batch * s.groups);
    group_norm_forward(y.data(), mean.data(), rstd.data(), x.data(),
                       affine ? gamma.data() : nullptr, affine ? beta.data() : nullptr, s);
    std::vector<float> dx(n), dg(s.channels), db(s.channels);
    group_norm_backward(dx.data(), affine ? dg.data() : nullptr, affine ? db.data() : nullptr,
                        proj.data(), x.data(), mean.data(), rstd.data(),
                        affine ? gamma.data() : nullptr, s);
    const auto pd = to_double(proj);
    auto f = [&](const std::vector<double>& xx, const std::vector<double>& gg,
                 const std::vector<double>& bb) {
      std::vector<double> yy(n);
      group_norm_forward_naive(yy.data(), xx.data(), affine ? gg.data() : nullptr,
                               affine ? bb.data() : nullptr, s);
      return project(yy, pd);
    };
    const auto xd = to_double(x), gd = to_double(gamma), bd = to_double(beta);
    const auto nx = numeric_grad([&](const auto& v) { return f(v, gd, bd); }, xd);
    // Float backward vs exact derivative: terms are O(rstd) ~ 1 and a group has 10 values, so
    // float rounding stays below 1e-5.
    EXPECT_EQ(first_mismatch(dx.data(), nx.data(), n, 2e-5, 1e-4, "dx"), -1);
    if (affine) {
      const auto ng = numeric_grad([&](const auto& v) { return f(xd, v, bd); }, gd);
      const auto nb = numeric_grad([&](const auto& v) { return f(xd, gd, v); }, bd);
      EXPECT_EQ(first_mismatch(dg.data(), ng.data(), s.channels, 2e-5, 1e-4, "dgamma"), -1);
      EXPECT_EQ(first_mismatch(db.data(), nb.data(), s.channels, 2e-5, 1e-4, "dbeta"), -1);
    }
  }
}

class Activation : public ::testing::TestWithParam<activation> {};

TEST_P(Activation, ForwardAndBackwardMatchNaive) {
  const activation a = GetParam();
  // A dense sweep over [-12, 12] plus the kinks and large magnitudes.
  std::vector<float> x;
  for (int i = -12000; i <= 12000; ++i) x.push_back(static_cast<float>(i) * 1e-3f);
  for (float v : {-100.f, -90.f, -3.f, 3.f, 0.f, 1e-30f, -1e-30f, 50.f, 100.f}) x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(n), dx(n), dy(n, 1.f);
  activation_forward(y.data(), x.data(), n, a);
  activation_backward(dx.data(), dy.data(), x.data(), n, a);
  std::vector<double> ry(n), rd(n);
  for (int64_t i = 0; i < n; ++i) {
    ry[i] = activation_naive<double>(x[i], a);
    rd[i] = activation_derivative_naive<double>(x[i], a);
  }
  // The exp polynomial is good to ~2 ulp and the A&S erf to 1.5e-7 absolute: 4e-7 absolute plus
  // 1e-6 relative holds with margin for outputs of any size.
  EXPECT_EQ(first_mismatch(y.data(), ry.data(), n, 4e-7, 1e-6, std::string(name_of(a)).c_str()),
            -1);
  EXPECT_EQ(first_mismatch(dx.data(), rd.data(), n, 4e-7, 1e-6, std::string(name_of(a)).c_str()),
            -1);
}

TEST_P(Activation, NaiveDerivativeMatchesFiniteDifferences) {
  const activation a = GetParam();
  for (double x = -6.05; x < 6.0; x += 0.1) {  // steps avoid the kinks at 0 and +-3
    const double h = 1e-6;
    const double num =
        (activation_naive<double>(x + h, a) - activation_naive<double>(x - h, a)) / (2 * h);
    // Smooth away from kinks: O(h^2) truncation and ~1e-10 rounding.
    EXPECT_NEAR(activation_derivative_naive<double>(x, a), num, 1e-8)
        << std::string(name_of(a)).c_str() << " at " << x;
  }
}

INSTANTIATE_TEST_SUITE_P(All, Activation,
                         ::testing::Values(activation::relu, activation::hardswish,
                                           activation::selu, activation::gelu),
                         [](const auto& info) { return std::string(name_of(info.param)); });

TEST(Activation, NamesRoundTrip) {
  for (activation a : {activation::relu, activation::hardswish, activation::selu, activation::gelu})
    EXPECT_EQ(parse_name<activation>(name_of(a)), a);
  EXPECT_EQ(parse_name<activation>("tanh"), std::nullopt);
}

TEST(Pooling, MaxPoolMatchesNaiveAndRoutesGradientToTheMaximum) {
  for (auto [planes, h, w] : {std::tuple{3, 8, 8}, std::tuple{2, 7, 9}, std::tuple{4, 32, 32}}) {
    const int64_t n = static_cast<int64_t>(planes) * h * w,
                  m = static_cast<int64_t>(planes) * (h / 2) * (w / 2);
    const auto x = random_vector(n, 18);
    std::vector<float> y(m);
    max_pool2_forward(y.data(), x.data(), planes, h, w);
    std::vector<double> ref(m);
    const auto xd = to_double(x);
    max_pool2_forward_naive(ref.data(), xd.data(), planes, h, w);
    EXPECT_EQ(first_mismatch(y.data(), ref.data(), m, 0, 0, "max pool"), -1);
    // Distinct random inputs: the max is unique, so the gradient equals the finite difference.
    const auto dy = random_vector(m, 19);
    std::vector<float> dx(n);
    max_pool2_backward(dx.data(), dy.data(), x.data(), y.data(), planes, h, w);
    const auto proj = to_double(dy);
    const auto num = numeric_grad(
        [&](const std::vector<double>& v) {
          std::vector<double> yy(m);
          max_pool2_forward_naive(yy.data(), v.data(), planes, h, w);
          return project(yy, proj);
        },
        xd, 1e-7);
    EXPECT_EQ(first_mismatch(dx.data(), num.data(), n, 1e-6, 1e-6, "max pool dx"), -1);
  }
}

TEST(Pooling, AvgPoolDropsTheIncompleteLastWindow) {
  EXPECT_EQ(avg_pool_out_size(7, 2, 2), 3);
  EXPECT_EQ(avg_pool_out_size(8, 2, 2), 4);
  EXPECT_EQ(avg_pool_out_size(11, 3, 3), 3);
  EXPECT_EQ(avg_pool_out_size(9, 3, 2), 4);
  EXPECT_EQ(avg_pool_out_size(2, 3, 3), 0);
  // 3x3 input, 2x2 pool: one output, the mean of the top-left window; row 2 and column 2 unused.
  const std::vector<float> x{1, 2, 100, 3, 6, 100, 100, 100, 100};
  float y = 0;
  avg_pool_forward(&y, x.data(), 1, 3, 3, 2, 2);
  EXPECT_EQ(y, 3.f);
  std::vector<float> dx(9, -1.f);
  const float dy = 4.f;
  avg_pool_backward(dx.data(), &dy, 1, 3, 3, 2, 2);
  EXPECT_EQ(dx, (std::vector<float>{1, 1, 0, 1, 1, 0, 0, 0, 0}));
}

TEST(Pooling, AvgPoolMatchesNaiveAndFiniteDifferences) {
  // planes, H, W, kernel, stride
  for (auto [planes, h, w, k, st] :
       {std::tuple{3, 8, 8, 2, 2}, std::tuple{2, 7, 9, 2, 2}, std::tuple{4, 32, 32, 2, 2},
        std::tuple{2, 11, 10, 3, 3}, std::tuple{2, 9, 13, 3, 2} /* overlapping */,
        std::tuple{1, 10, 11, 2, 3} /* gaps */, std::tuple{2, 5, 5, 5, 5} /* whole plane */,
        std::tuple{2, 6, 5, 1, 1} /* identity */, std::tuple{3, 17, 19, 4, 4}}) {
    SCOPED_TRACE(::testing::Message()
                 << planes << "x" << h << "x" << w << " kernel " << k << " stride " << st);
    const int oh = avg_pool_out_size(h, k, st), ow = avg_pool_out_size(w, k, st);
    const int64_t n = static_cast<int64_t>(planes) * h * w,
                  m = static_cast<int64_t>(planes) * oh * ow;
    const auto x = random_vector(n, 22);
    std::vector<float> y(m);
    avg_pool_forward(y.data(), x.data(), planes, h, w, k, st);
    std::vector<double> ref(m);
    const auto xd = to_double(x);
    avg_pool_forward_naive(ref.data(), xd.data(), planes, h, w, k, st);
    // Means of <= 25 float values of magnitude <= 1: a few ulps of the sum.
    EXPECT_EQ(first_mismatch(y.data(), ref.data(), m, 1e-6, 1e-6, "avg pool"), -1);
    std::vector<float> fy(m);
    avg_pool_forward_naive(fy.data(), x.data(), planes, h, w, k, st);
    EXPECT_EQ(first_mismatch(fy.data(), ref.data(), m, 1e-6, 1e-6, "avg pool naive float"), -1);
    const auto dy = random_vector(m, 23);
    std::vector<float> dx(n, 7.f);  // garbage: the backward must write every element
    avg_pool_backward(dx.data(), dy.data(), planes, h, w, k, st);
    const auto proj = to_double(dy);
    const auto num = numeric_grad(
        [&](const std::vector<double>& v) {
          std::vector<double> yy(m);
          avg_pool_forward_naive(yy.data(), v.data(), planes, h, w, k, st);
          return project(yy, proj);
        },
        xd);
    // Linear in x: the central difference is exact up to rounding (~1e-16 * m / h ~ 1e-10); the
    // float dx sums at most ceil(k/stride)^2 terms dy/k^2.
    EXPECT_EQ(first_mismatch(dx.data(), num.data(), n, 1e-6, 1e-6, "avg pool dx"), -1);
  }
}

TEST(Pooling, GlobalAveragePoolMatchesNaiveAndFiniteDifferences) {
  const int planes = 6, hw = 37;
  const auto x = random_vector(planes * hw, 20);
  std::vector<float> y(planes);
  global_avg_pool_forward(y.data(), x.data(), planes, hw);
  std::vector<double> ref(planes);
  const auto xd = to_double(x);
  global_avg_pool_forward_naive(ref.data(), xd.data(), planes, hw);
  EXPECT_EQ(first_mismatch(y.data(), ref.data(), planes, 1e-6, 1e-6, "gap"), -1);
  const auto dy = random_vector(planes, 21);
  std::vector<float> dx(planes * hw);
  global_avg_pool_backward(dx.data(), dy.data(), planes, hw);
  const auto proj = to_double(dy);
  const auto num = numeric_grad(
      [&](const std::vector<double>& v) {
        std::vector<double> yy(planes);
        global_avg_pool_forward_naive(yy.data(), v.data(), planes, hw);
        return project(yy, proj);
      },
      xd);
  EXPECT_EQ(first_mismatch(dx.data(), num.data(), planes * hw, 1e-8, 1e-6, "gap dx"), -1);
}

}  // namespace
}  // namespace baffle
