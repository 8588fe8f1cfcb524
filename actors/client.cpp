// Client behaviour: a thin shell over compute_round.
#include "actors/client.hpp"

#include <optional>
#include <string>
#include <vector>

#include "actors/round_plan.hpp"
#include "models/compute.hpp"

namespace baffle {

std::optional<std::string> task_problem(const client_state& st, uint64_t round,
                                        uint64_t model_version) {
  if (st.replica->version == model_version) return std::nullopt;
  return "client " + std::to_string(st.id) + ": the task of round " + std::to_string(round) +
         " is for model version " + std::to_string(model_version) + ", the replica holds " +
         std::to_string(st.replica->version);
}

namespace {

/// What in a task differs from what the scenario asks of every task (checked in every build type:
/// a task is a message, and its sizes drive allocations and loops).
std::optional<std::string> task_mismatch(const client_state& st, const round_task& t) {
  const world& w = *st.w;
  std::string why;
  if (t.k != static_cast<uint32_t>(w.sc.baffle.k)) {
    why = "K = " + std::to_string(t.k) + ", the scenario's is " + std::to_string(w.sc.baffle.k);
  } else if (t.batch_size != static_cast<uint32_t>(w.sc.train.batch_size)) {
    why = "batch " + std::to_string(t.batch_size);
  } else if (t.sigma != static_cast<float>(w.sc.baffle.sigma)) {
    why = "sigma " + std::to_string(t.sigma);
  } else if (t.scheme != w.scheme || t.seeds != w.seeds) {
    why = "another scheme or seed mode";
  }
  if (why.empty()) return std::nullopt;
  return "client " + std::to_string(st.id) + ": a task with " + why;
}

std::optional<std::string> task_mismatch(const client_state& st, const backprop_task& t) {
  const world& w = *st.w;
  std::string why;
  if (t.batch_size != static_cast<uint32_t>(w.sc.train.batch_size)) {
    why = "batch " + std::to_string(t.batch_size);
  } else if (t.local_steps != static_cast<uint32_t>(baseline_steps(w))) {
    why = std::to_string(t.local_steps) + " local steps";
  } else if (t.local_lr != static_cast<float>(w.sc.train.local_lr)) {
    why = "local learning rate " + std::to_string(t.local_lr);
  }
  if (why.empty()) return std::nullopt;
  return "client " + std::to_string(st.id) + ": a task with " + why;
}

}  // namespace

round_result compute_round(const client_state& st, const round_task& task) {
  const world& w = *st.w;
  const auto& shard = w.parts.clients[st.id];
  const auto batch_idx =
      client_minibatch(shard, static_cast<int>(task.batch_size), w.sc.seed, st.id, task.round);
  const int b = static_cast<int>(batch_idx.size());
  // x: (B, features) row-major, y: (B). Plain vectors: an aligned allocation (posix_memalign) cost
  // 3% of a tiny-model round, and no kernel needs the alignment.
  std::vector<float> x(static_cast<size_t>(b) * static_cast<size_t>(input_features(w)));
  std::vector<int32_t> y(static_cast<size_t>(b));
  gather_inputs(w, w.data.train, batch_idx, x, y);

  perturbation_plan plan;
  plan.round_seed = client_perturbation_seed(task.round_seed, task.seeds, st.id);
  plan.k = static_cast<int>(task.k);
  plan.sigma = task.sigma;
  plan.scheme = task.scheme;
  plan.options = w.estimator;
  // With shared seeds the node's other clients perturb the same weights the same way: the node's
  // cache forms each vector once for all of them.
  const auto weights = st.replica->view();
  std::shared_ptr<perturbation_generation> cached;
  if (st.cache && task.seeds == seed_mode::shared)
    cached = st.cache->acquire(
        perturbation_key{weights.data(), st.replica->version, static_cast<int64_t>(weights.size()),
                         plan.round_seed, plan.k, plan.sigma, plan.scheme, plan.options});
  const auto est = baffle_client_step(*w.net, weights, batch_view{x, y, b}, plan, *st.arena,
                                      st.pool, cached.get());

  round_result r;
  r.round = task.round;
  r.client = st.id;
  r.scalars = est.scalars;
  r.base_loss = static_cast<float>(est.base.mean_loss());
  r.samples = static_cast<uint32_t>(b);
  r.forward_passes = static_cast<uint32_t>(est.forward_passes);
  // Virtual time: from when the task and the model are on the device, the forward passes.
  const double flops = static_cast<double>(est.forward_passes) * w.net->forward_flops(b);
  r.finish_time = compute_finish(w, st.id, task.round, task.start_time, flops);
  return r;
}

dense_result compute_backprop_round(const client_state& st, const backprop_task& task) {
  const world& w = *st.w;
  enter_compute_thread();
  const network& net = *w.net;
  const auto& shard = w.parts.clients[st.id];
  const auto view = st.replica->view();
  std::vector<float> params(view.begin(), view.end());
  std::vector<float> grad(params.size());
  workspace ws;
  const int steps = task.kind == baseline::fedsgd ? 1 : static_cast<int>(task.local_steps);
  dense_result r;
  r.round = task.round;
  r.client = st.id;
  int batch = 0;
  for (int s = 0; s < steps; ++s) {
    // FedAvg walks its shard's per-epoch permutations: step s of round r is batch r * steps + s.
    const uint64_t position =
        task.kind == baseline::fedsgd
            ? task.round
            : task.round * static_cast<uint64_t>(steps) + static_cast<uint64_t>(s);
    const auto idx =
        client_minibatch(shard, static_cast<int>(task.batch_size), w.sc.seed, st.id, position);
    batch = static_cast<int>(idx.size());
    std::vector<float> x(static_cast<size_t>(batch) * static_cast<size_t>(input_features(w)));
    std::vector<int32_t> y(batch);
    gather_inputs(w, w.data.train, idx, x, y);
    const loss_stats ls = net.loss_and_grad(params, batch_view{x, y, batch}, grad, ws);
    if (s == 0) r.base_loss = static_cast<float>(ls.mean_loss());
    r.samples += static_cast<uint32_t>(batch);
    if (task.kind == baseline::fedavg) {
      for (size_t i = 0; i < params.size(); ++i) params[i] -= task.local_lr * grad[i];
    }
  }
  if (task.kind == baseline::fedavg) {
    // The update, not the weights: under async the server adds it to a newer model.
    for (size_t i = 0; i < params.size(); ++i) params[i] -= view[i];
  }
  r.values = task.kind == baseline::fedsgd ? std::move(grad) : std::move(params);
  r.forward_passes = static_cast<uint32_t>(steps);
  // Virtual time: from when the task and the weights are on the device, forward + backward passes.
  const double flops = steps * backprop_flops_factor * net.forward_flops(batch);
  r.finish_time = compute_finish(w, st.id, task.round, task.start_time, flops);
  return r;
}

client_actor::behavior_type client_behavior(client_actor::stateful_pointer<client_state> self,
                                            std::shared_ptr<const world> w,
                                            std::shared_ptr<const model_replica> replica,
                                            tbb::task_arena* arena, workspace_pool* pool,
                                            std::shared_ptr<perturbation_cache> cache) {
  self->state.cache = std::move(cache);
  self->state.w = std::move(w);
  self->state.replica = std::move(replica);
  self->state.arena = arena;
  self->state.pool = pool;
  // Answers a task for the client it names. A task must be for a client of the world and for the
  // version the replica holds: checked in every build type, since a task is a message and may
  // come from another process (its node has checked that the client lives there).
  const auto answer = [self](const auto& t, auto compute) {
    using result_type = decltype(compute(self->state, t.task));
    auto& st = self->state;
    if (t.client >= static_cast<uint32_t>(st.w->sc.clients.count))
      return caf::result<result_type>(caf::make_error(
          caf::sec::invalid_argument, "client " + std::to_string(t.client) + " does not exist"));
    st.id = t.client;
    auto why = task_problem(st, t.task.round, t.task.model_version);
    if (!why) why = task_mismatch(st, t.task);
    if (why) return caf::result<result_type>(caf::make_error(caf::sec::invalid_argument, *why));
    return caf::result<result_type>(compute(st, t.task));
  };
  return {
      [answer](const node_round_task& t) { return answer(t, compute_round); },
      [answer](const node_backprop_task& t) { return answer(t, compute_backprop_round); },
  };
}

}  // namespace baffle
