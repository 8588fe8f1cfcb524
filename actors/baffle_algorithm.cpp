// BAFFLE on the server: a task is a seed and K; a result is K loss differences; the step rebuilds
// the gradient from (seed, coefficient) groups through the one update path, records the update
// for replaying devices and sends it to every node.
#include <utility>

#include "actors/algorithm.hpp"

namespace baffle {

seed_groups baffle_seed_groups(const world& w, const std::vector<baffle_term>& terms) {
  const int k = w.sc.baffle.k;
  // sigma as the clients use it (a float in the task).
  const double scale = 1.0 / (static_cast<double>(k) * static_cast<float>(w.sc.baffle.sigma));
  double total = 0.0;
  for (const baffle_term& t : terms) total += t.result->samples;
  seed_groups g;
  for (const baffle_term& t : terms) {
    const uint64_t seed = client_perturbation_seed(
        round_seed(w.sc.seed, static_cast<int64_t>(t.seed_round)), w.seeds, t.result->client);
    if (g.seeds.empty() || g.seeds.back() != seed) {
      g.seeds.push_back(seed);
      g.coefficients.resize(g.coefficients.size() + static_cast<size_t>(k), 0.0);
    }
    double* c = g.coefficients.data() + g.coefficients.size() - static_cast<size_t>(k);
    const double n = static_cast<double>(t.result->samples) * t.staleness_factor;
    for (int j = 0; j < k; ++j) c[j] += n * static_cast<double>(t.result->scalars[j]);
  }
  // As the reconstruction uses them (rounded to float), so the update message rebuilds exactly
  // the gradient the server applies.
  for (double& c : g.coefficients) c = total > 0 ? static_cast<float>(c / total * scale) : 0.0f;
  return g;
}

namespace server_detail {
namespace {

class baffle_algorithm final : public server_algorithm {
 public:
  round_costs costs(const world& w) const override {
    round_costs costs;
    costs.batch_size = w.sc.train.batch_size;
    round_task task;
    round_result sized;  // a result of this scenario's size, for the link model
    sized.scalars.resize(static_cast<size_t>(w.sc.baffle.k));
    costs.task_bytes = wire_size(task);
    costs.result_bytes = wire_size(sized);
    costs.forward_passes = forward_passes_per_round(w.sc.baffle.k, w.scheme);
    costs.replay = w.sc.baffle.download != download_mode::weights;
    costs.model_bytes = w.model_bytes;
    costs.state_bytes = optimizer_state_bytes(w);
    return costs;
  }

  void send(self_ptr self, uint32_t client, uint64_t task_round, uint64_t seed_round,
            sim_time start, reply_handler reply) const override {
    const world& w = *self->state.w;
    round_task task;
    task.round = task_round;
    task.model_version = self->state.model.replica->version;
    task.round_seed = round_seed(w.sc.seed, static_cast<int64_t>(seed_round));
    task.k = static_cast<uint32_t>(w.sc.baffle.k);
    task.sigma = static_cast<float>(w.sc.baffle.sigma);
    task.scheme = w.scheme;
    task.seeds = w.seeds;
    task.batch_size = static_cast<uint32_t>(w.sc.train.batch_size);
    task.start_time = start;
    send_through_node(self, node_round_task{client, task}, std::move(reply));
  }

  void step(self_ptr self, const std::vector<contribution>& in, int64_t step) const override {
    auto& st = self->state;
    std::vector<baffle_term> terms;
    terms.reserve(in.size());
    for (const contribution& c : in)
      terms.push_back({&std::get<round_result>(*c.result), c.seed_round, c.staleness_factor});
    seed_groups g = baffle_seed_groups(*st.w, terms);
    model_update u;
    u.version = st.model.replica->version + 1;
    u.step = step;
    u.seeds = std::move(g.seeds);
    u.coefficients = std::move(g.coefficients);
    apply_update(st.model, *st.w, u, *st.arena);
    record_update(st, u);
    if (st.control.on_update) st.control.on_update(u);
    broadcast(self, u);
  }
};

}  // namespace

std::unique_ptr<server_algorithm> make_baffle_algorithm() {
  return std::make_unique<baffle_algorithm>();
}

}  // namespace server_detail
}  // namespace baffle
