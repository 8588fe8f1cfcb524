// MLP: forward against a naive double-precision reference, backprop against exact finite
// differences of that reference.
#include "models/mlp.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "models/compute.hpp"
#include "models/philox.hpp"

namespace baffle {
namespace {

struct toy_batch {
  std::vector<float> x;
  std::vector<int32_t> y;
  int size;
  batch_view view() const { return batch_view{x, y, size}; }
};

toy_batch make_batch(int size, int features, int classes, uint64_t seed) {
  toy_batch b{std::vector<float>(static_cast<size_t>(size) * features), std::vector<int32_t>(size),
              size};
  const stream_id s{seed, purpose::derive, 99};
  for (size_t i = 0; i < b.x.size(); ++i) b.x[i] = static_cast<float>(2.0 * uniform01(s, i) - 1.0);
  for (int i = 0; i < size; ++i)
    b.y[i] = static_cast<int32_t>(uniform_below(s, 1000000 + i, classes));
  return b;
}

/// Mean cross-entropy of the MLP in double precision, written from the definition.
double naive_loss(const mlp& net, const std::vector<double>& p, const toy_batch& b) {
  double total = 0.0;
  const auto& layers = net.layers();
  for (int r = 0; r < b.size; ++r) {
    std::vector<double> a(b.x.begin() + static_cast<size_t>(r) * layers[0].in,
                          b.x.begin() + static_cast<size_t>(r + 1) * layers[0].in);
    for (size_t li = 0; li < layers.size(); ++li) {
      const auto& l = layers[li];
      std::vector<double> z(l.out);
      for (int o = 0; o < l.out; ++o) {
        double acc = p[l.bias_offset + o];
        for (int i = 0; i < l.in; ++i)
          acc += p[l.weight_offset + static_cast<int64_t>(o) * l.in + i] * a[i];
        z[o] = (li + 1 < layers.size()) ? std::max(acc, 0.0) : acc;
      }
      a = z;
    }
    double mx = a[0];
    for (double v : a) mx = std::max(mx, v);
    double sum = 0.0;
    for (double v : a) sum += std::exp(v - mx);
    total += std::log(sum) + mx - a[b.y[r]];
  }
  return total / b.size;
}

TEST(Mlp, ParameterCountMatchesLayerSizes) {
  mlp net(784, {32}, 10);
  EXPECT_EQ(net.param_count(), 784 * 32 + 32 + 32 * 10 + 10);
  mlp linear(784, {}, 10);
  EXPECT_EQ(linear.param_count(), 7850);
}

TEST(Mlp, ForwardLossMatchesNaiveDoubleReference) {
  enter_compute_thread();
  for (auto hidden : {std::vector<int>{}, std::vector<int>{7}, std::vector<int>{16, 5}}) {
    mlp net(13, hidden, 4);
    std::vector<float> p(net.param_count());
    net.init(p, 3);
    const auto b = make_batch(9, 13, 4, 5);
    workspace ws;
    const auto st = net.loss(p, b.view(), ws);
    const double ref = naive_loss(net, std::vector<double>(p.begin(), p.end()), b);
    EXPECT_NEAR(st.mean_loss(), ref, 1e-5 * std::max(1.0, std::abs(ref))) << net.describe();
    EXPECT_EQ(st.count, 9);
  }
}

TEST(Mlp, BackpropMatchesDoubleFiniteDifferences) {
  enter_compute_thread();
  mlp net(11, {6, 5}, 3);
  std::vector<float> p(net.param_count());
  net.init(p, 7);
  // Biases away from zero so no ReLU sits on its kink at the evaluation point.
  for (const auto& l : net.layers())
    for (int o = 0; o < l.out; ++o) p[l.bias_offset + o] = 0.05f * static_cast<float>(o + 1);
  const auto b = make_batch(8, 11, 3, 11);
  std::vector<float> grad(net.param_count());
  workspace ws;
  net.loss_and_grad(p, b.view(), grad, ws);
  std::vector<double> pd(p.begin(), p.end());
  const double h = 1e-6;
  for (int64_t i = 0; i < net.param_count(); ++i) {
    auto plus = pd, minus = pd;
    plus[i] += h;
    minus[i] -= h;
    const double fd = (naive_loss(net, plus, b) - naive_loss(net, minus, b)) / (2 * h);
    ASSERT_NEAR(grad[i], fd, 1e-4 + 1e-3 * std::abs(fd)) << "first mismatch at parameter " << i;
  }
}

TEST(Mlp, InitIsDeterministicInSeed) {
  mlp net(20, {10}, 3);
  std::vector<float> a(net.param_count()), b(net.param_count()), c(net.param_count());
  net.init(a, 1);
  net.init(b, 1);
  net.init(c, 2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Mlp, MakeNetworkRejectsZeroWidths) {
  network_spec spec;
  spec.arch = arch_kind::mlp;
  spec.hidden = {0};
  EXPECT_FALSE(make_network(spec).ok());
}

TEST(Mlp, LowPrecisionForwardMatchesTheNaiveReferenceOnConvertedValues) {
  enter_compute_thread();
  for (auto p : {forward_precision::bf16, forward_precision::int8}) {
    const mlp net(20, {16, 12}, 5, p);
    std::vector<float> params(net.param_count());
    net.init(params, 3);
    const auto b = make_batch(6, 20, 5, 4);
    // Layer by layer through the 1x1-convolution reference: convert, then double arithmetic.
    std::vector<float> a = b.x;
    double total = 0;
    for (size_t li = 0; li < net.layers().size(); ++li) {
      const auto& l = net.layers()[li];
      std::vector<double> z(static_cast<size_t>(b.size) * l.out);
      conv2d_forward_lowp_naive(z.data(), a.data(), params.data() + l.weight_offset,
                                params.data() + l.bias_offset, linear_shape(b.size, l.in, l.out),
                                p);
      if (li + 1 < net.layers().size()) {
        a.assign(z.size(), 0.f);
        for (size_t i = 0; i < z.size(); ++i) a[i] = static_cast<float>(std::max(z[i], 0.0));
        continue;
      }
      for (int r = 0; r < b.size; ++r) {
        const double* zr = z.data() + static_cast<size_t>(r) * l.out;
        double mx = zr[0], sum = 0;
        for (int c = 0; c < l.out; ++c) mx = std::max(mx, zr[c]);
        for (int c = 0; c < l.out; ++c) sum += std::exp(zr[c] - mx);
        total += std::log(sum) + mx - zr[b.y[r]];
      }
    }
    workspace ws;
    const double fast = net.loss(params, b.view(), ws).mean_loss();
    const double f32 = net.loss_at(forward_precision::f32, params, b.view(), ws).mean_loss();
    // As for the lenet: identical conversions but for values on a rounding boundary.
    EXPECT_NEAR(fast, total / b.size, 1e-4) << name_of(p) << ", f32 loss " << f32;
    EXPECT_GT(std::fabs(fast - f32), 1e-4) << name_of(p);
  }
}

}  // namespace
}  // namespace baffle
