// Small learnable worlds for actor tests: no files, a few hundred 4x4 images.
#pragma once

#include <vector>

#include "actors/metrics.hpp"
#include "actors/protocol.hpp"
#include "actors/world.hpp"
#include "models/philox.hpp"

namespace baffle {

/// A learnable toy set: 4x4 images whose bright quadrant is the class (3 classes), plus noise.
inline train_test toy_data(int n_train, int n_test) {
  auto make = [](int n, uint64_t seed) {
    dataset d;
    d.count = n;
    d.rows = 4;
    d.cols = 4;
    d.num_classes = 3;
    d.pixels.resize(static_cast<size_t>(n) * 16);
    d.labels.resize(n);
    const stream_id s{seed, purpose::derive, 0};
    for (int i = 0; i < n; ++i) {
      const int label = static_cast<int>(uniform_below(s, i, 3));
      d.labels[i] = static_cast<uint8_t>(label);
      for (int p = 0; p < 16; ++p) {
        const int quadrant = (p / 8) * 2 + (p % 4) / 2;
        const int base = quadrant == label ? 200 : 30;
        d.pixels[static_cast<size_t>(i) * 16 + p] = static_cast<uint8_t>(
            base + static_cast<int>(uniform_below(s, 100000 + i * 16 + p, 50)));
      }
    }
    return d;
  };
  return train_test{make(n_train, 1), make(n_test, 2)};
}

/// A real (not test-coordinated) actor system's config for `threads` scheduler threads, with every
/// message type registered.
inline void configure_actor_system(caf::actor_system_config& cfg, size_t threads) {
  add_message_types(cfg);
  cfg.set("scheduler.max-threads", threads);
}

inline scenario toy_scenario() {
  scenario sc;
  sc.name = "toy";
  sc.seed = 5;
  sc.model.hidden = {6};
  sc.train.rounds = 3;
  sc.train.batch_size = 8;
  sc.train.eval_every = 1;
  sc.baffle.k = 16;
  sc.baffle.sigma = 1e-3;
  sc.clients.count = 4;
  sc.clients.per_round = 3;
  sc.clients.link.latency = distribution::constant(0.05);
  sc.clients.compute.gflops = 0.001;  // slow devices, so compute time shows in sim_time
  return sc;
}

/// The toy scenario with a small LeNet on the images padded to 8x8, 4 rounds evaluated every 2nd,
/// K = 6 at sigma 1e-2 (above half a bf16 ulp of the weights, so low precision still learns).
inline scenario toy_lenet_scenario() {
  scenario sc = toy_scenario();
  sc.model.arch = arch_kind::lenet;
  sc.model.channels = {4, 8};
  sc.data.image_size = 8;
  sc.baffle.k = 6;
  sc.baffle.sigma = 1e-2;
  sc.train.rounds = 4;
  sc.train.eval_every = 2;
  return sc;
}

/// Keeps every round's record.
struct round_records_sink final : metrics_sink {
  std::vector<round_record> rounds;
  void on_round(const round_record& r) override { rounds.push_back(r); }
};

}  // namespace baffle
