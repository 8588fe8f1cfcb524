// The estimator on the paper's network and real data: on LeNet(16, 64) and a real Fashion-MNIST
// minibatch, the cosine between the BAFFLE estimate and the backprop gradient grows with K like
// sqrt(K / (K + n)) (n = 26,730), for both finite-difference schemes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "models/compute.hpp"
#include "models/dataset.hpp"
#include "models/estimator.hpp"
#include "models/lenet.hpp"

namespace baffle {
namespace {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

TEST(BaffleEstimatorOnLenet, CosineWithBackpropGrowsLikeSqrtKOverN) {
  enter_compute_thread();
  auto data = load_mnist_folder("/usr/share/datasets/fashion-mnist", 64, 1);
  if (!data.ok()) GTEST_SKIP() << data.error();
  // The reference configuration: 1x32x32 input (28 padded to 32), Hardswish, no norm, batch 32.
  lenet net(1, 32, 16, 64, 10, activation::hardswish, norm_kind::none);
  ASSERT_EQ(net.param_count(), 26730);
  std::vector<float> w(net.param_count());
  net.init(w, 7);
  const int batch = 32;
  std::vector<uint32_t> idx(batch);
  for (int i = 0; i < batch; ++i) idx[i] = static_cast<uint32_t>(i);
  std::vector<float> raw(static_cast<size_t>(batch) * 784), x(static_cast<size_t>(batch) * 1024);
  std::vector<int32_t> y(batch);
  gather_batch(data->train, idx, measure_normalization(data->train), raw, y);
  pad_images(x.data(), raw.data(), batch, 1, 28, 32);
  const batch_view b{x, y, batch};
  std::vector<float> truth(net.param_count());
  workspace ws;
  net.loss_and_grad(w, b, truth, ws);

  tbb::task_arena arena(2);
  workspace_pool pool;
  const double n = static_cast<double>(net.param_count());
  for (auto scheme : {fd_scheme::forward, fd_scheme::central}) {
    std::vector<double> measured;
    for (int k : {10, 100, 1000}) {
      // Average a few seeds at small K, where one estimate's cosine is noisy (sd ~ 1/sqrt(n)).
      const int seeds = k == 10 ? 6 : (k == 100 ? 2 : 1);
      double sum = 0;
      for (int s = 0; s < seeds; ++s) {
        perturbation_plan plan{derive_seed(5, purpose::round_seed, s), k, 1e-4f, scheme};
        const auto est = baffle_client_step(net, w, b, plan, arena, &pool);
        std::vector<float> g(net.param_count());
        baffle_reconstruct(std::vector<double>(est.scalars.begin(), est.scalars.end()), plan, g,
                           arena);
        sum += cosine(g, truth);
      }
      const double c = sum / seeds;
      const double ideal = std::sqrt(k / (k + n));  // 0.019, 0.061, 0.190
      // Within a factor of 1.6 of the ideal: the finite differences at sigma = 1e-4 in float are
      // close to exact directional derivatives, so only sampling noise separates them.
      EXPECT_GT(c, ideal / 1.6) << "K = " << k
                                << (scheme == fd_scheme::central ? " central" : " forward");
      EXPECT_LT(c, ideal * 1.6) << "K = " << k
                                << (scheme == fd_scheme::central ? " central" : " forward");
      measured.push_back(c);
      std::printf("%s K=%d: cosine %.4f (sqrt(K/(K+n)) = %.4f)\n",
                  scheme == fd_scheme::central ? "central" : "forward", k, c, ideal);
    }
    // Ten times the directions: about sqrt(10) = 3.2 times the cosine.
    EXPECT_GT(measured[1] / measured[0], 2.0);
    EXPECT_GT(measured[2] / measured[1], 2.0);
  }
}

}  // namespace
}  // namespace baffle
