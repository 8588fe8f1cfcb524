// The true minibatch gradient of a measured update and its comparison with the estimate (see
// gradient_probe.hpp).
#include "actors/gradient_probe.hpp"

#include <algorithm>
#include <cmath>

#include <tbb/parallel_for.h>

#include "models/compute.hpp"
#include "models/dataset.hpp"

namespace baffle {

std::vector<double> true_gradient(const world& w, std::span<const probe_term> terms,
                                  tbb::task_arena& arena, workspace_pool* pool) {
  const network& net = *w.net;
  const auto n = static_cast<size_t>(net.param_count());
  std::vector<double> total(n, 0.0);
  // One block of backward passes at a time, each into its own buffer, then added in term order.
  const size_t block = static_cast<size_t>(std::max(1, arena.max_concurrency()));
  std::vector<std::vector<float>> grads(std::min(block, terms.size()), std::vector<float>(n));
  for (size_t first = 0; first < terms.size(); first += block) {
    const size_t count = std::min(block, terms.size() - first);
    arena.execute([&] {
      tbb::parallel_for(size_t{0}, count, [&](size_t j) {
        enter_compute_thread();
        const probe_term& t = terms[first + j];
        const auto idx = client_minibatch(w.parts.clients[t.client], static_cast<int>(t.batch_size),
                                          w.sc.seed, t.client, t.task_round);
        const int b = static_cast<int>(idx.size());
        std::vector<float> x(static_cast<size_t>(b) * static_cast<size_t>(input_features(w)));
        std::vector<int32_t> y(static_cast<size_t>(b));
        gather_inputs(w, w.data.train, idx, x, y);
        workspace_pool::lease ws(pool);
        net.loss_and_grad(t.weights, batch_view{x, y, b}, grads[j], *ws);
      });
    });
    for (size_t j = 0; j < count; ++j) {
      const double weight = terms[first + j].weight;
      for (size_t i = 0; i < n; ++i) total[i] += weight * static_cast<double>(grads[j][i]);
    }
  }
  return total;
}

gradient_measure compare_gradients(std::span<const float> estimate, std::span<const double> truth) {
  double dot = 0.0, ee = 0.0, tt = 0.0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const double e = estimate[i];
    dot += e * truth[i];
    ee += e * e;
    tt += truth[i] * truth[i];
  }
  gradient_measure m;
  m.true_norm = std::sqrt(tt);
  if (tt > 0.0 && ee > 0.0) m.cosine = dot / std::sqrt(ee * tt);
  if (tt > 0.0) m.norm_ratio = std::sqrt(ee) / m.true_norm;
  return m;
}

}  // namespace baffle
