// BAFFLE on the server: a task is a seed and K; a result is K loss differences; the step rebuilds
// the gradient from (seed, coefficient) groups through the one update path, records the update
// for replaying devices and sends it to every node.
#include <set>
#include <utility>

#include "actors/algorithm.hpp"
#include "actors/gradient_probe.hpp"
#include "models/seed_pool.hpp"

namespace baffle {

namespace {

/// The seed round r perturbs with: a fresh one per round, or the pool seed the round draws.
uint64_t perturbation_round_seed(const world& w, uint64_t seed_round) {
  const int pool = w.sc.baffle.seed_pool;
  if (pool > 0) return pool_seed(w.sc.seed, pool_index_of_round(w.sc.seed, pool, seed_round));
  return round_seed(w.sc.seed, static_cast<int64_t>(seed_round));
}

}  // namespace

seed_groups baffle_seed_groups(const world& w, const std::vector<baffle_term>& terms) {
  const int k = w.sc.baffle.k;
  // sigma as the clients use it (a float in the task).
  const double scale = 1.0 / (static_cast<double>(k) * static_cast<float>(w.sc.baffle.sigma));
  double total = 0.0;
  for (const baffle_term& t : terms) total += t.result->samples;
  seed_groups g;
  for (const baffle_term& t : terms) {
    const uint64_t seed = client_perturbation_seed(perturbation_round_seed(w, t.seed_round),
                                                   w.seeds, t.result->client);
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

/// run.measure_gradient_every: on a measured update, the estimate of `u` (before it is applied)
/// against the true gradient of its results, each at the model version it was computed on; under
/// async, then keeps the weights of every version a dispatch still in flight computes on (the
/// current one is about to change). Reads the run's state, never changes it.
void measure_gradient(server_state& st, const std::vector<contribution>& in, const model_update& u,
                      int64_t step) {
  const world& w = *st.w;
  const int every = w.sc.run.measure_gradient_every;
  if (every <= 0) return;
  const uint64_t current = st.model.replica->version;
  if (step % every == 0) {
    const std::vector<double> weights = contribution_weights(in);
    std::vector<probe_term> terms;
    for (size_t i = 0; i < in.size(); ++i) {
      const round_result& r = std::get<round_result>(*in[i].result);
      // Round policies compute every result on the current version; async on its dispatch's.
      const uint64_t version = in[i].version;
      std::span<const float> weights_at;
      if (version == current) {
        weights_at = st.model.replica->view();
      } else if (const auto kept = st.probe.versions.find(version);
                 kept != st.probe.versions.end()) {
        weights_at = kept->second;
      } else {
        // Only after a resume: the weights of a version from before it are gone. Not measured.
        terms.clear();
        break;
      }
      terms.push_back({r.client, r.round, weights_at, static_cast<uint32_t>(w.sc.train.batch_size),
                       weights[i]});
    }
    if (!terms.empty()) {
      std::vector<float> estimate(st.model.replica->params.size());
      rebuild_gradient(w, u, estimate, *st.arena);
      st.probe.measured = compare_gradients(estimate, true_gradient(w, terms, *st.arena, st.pool));
    }
  }
  // Keeps the weights of every older version a dispatch still in flight computes on (async; the
  // round policies have no dispatch in flight between rounds, so nothing is kept).
  std::set<uint64_t> taken;
  for (const contribution& c : in) taken.insert(std::get<round_result>(*c.result).round);
  std::set<uint64_t> needed;
  for (const auto& [seq, e] : st.entries)
    if (!e.dropped && !e.failed && taken.count(seq) == 0) needed.insert(e.version);
  std::erase_if(st.probe.versions, [&](const auto& kv) { return needed.count(kv.first) == 0; });
  if (needed.count(current) != 0) {
    const auto view = st.model.replica->view();
    st.probe.versions[current].assign(view.begin(), view.end());
  }
}

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
    task.round_seed = perturbation_round_seed(w, seed_round);
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
    if (st.model.pool.active() && st.model.pool.version != st.model.replica->version) {
      fail_run(self,
               "baffle.seed_pool: the model's weights came without the seed pool's "
               "coefficients, so it cannot go on in the pool's form");
      return;
    }
    measure_gradient(st, in, u, step);
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
