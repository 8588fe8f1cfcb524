// Client behaviour: a thin shell over compute_round.
#include "actors/client.hpp"

#include <cassert>

namespace baffle {

round_result compute_round(const client_state& st, const round_task& task) {
  const world& w = *st.w;
  // The replica is updated only between rounds; a mismatch is a server bug.
  assert(st.replica->version == task.model_version);
  const auto& shard = w.parts.clients[st.id];
  const auto batch_idx =
      client_minibatch(shard, static_cast<int>(task.batch_size), w.sc.seed, st.id, task.round);
  const int b = static_cast<int>(batch_idx.size());
  // x: (B, features), y: (B)
  xt::xtensor<float, 2> x =
      xt::empty<float>({static_cast<size_t>(b), static_cast<size_t>(input_features(w))});
  xt::xtensor<int32_t, 1> y = xt::empty<int32_t>({static_cast<size_t>(b)});
  gather_inputs(w, w.data.train, batch_idx, {x.data(), x.size()}, {y.data(), y.size()});

  perturbation_plan plan;
  plan.round_seed = client_perturbation_seed(task.round_seed, task.seeds, st.id);
  plan.k = static_cast<int>(task.k);
  plan.sigma = task.sigma;
  plan.scheme = task.scheme;
  const auto est = baffle_client_step(*w.net, st.replica->view(),
                                      batch_view{{x.data(), x.size()}, {y.data(), y.size()}, b},
                                      plan, *st.arena);

  round_result r;
  r.round = task.round;
  r.client = st.id;
  r.scalars = est.scalars;
  r.base_loss = static_cast<float>(est.base.mean_loss());
  r.samples = static_cast<uint32_t>(b);
  r.forward_passes = static_cast<uint32_t>(est.forward_passes);
  // Virtual time: the task crosses the downlink, then the device does the forward passes.
  const sim_time arrival = task.dispatch_time + transfer_time(w.downlink[st.id], wire_size(task));
  const double flops = static_cast<double>(est.forward_passes) * w.net->forward_flops(b);
  r.finish_time = arrival + compute_time(device_in_round(w, st.id, task.round), flops);
  return r;
}

client_actor::behavior_type client_behavior(client_actor::stateful_pointer<client_state> self,
                                            uint32_t id, std::shared_ptr<const world> w,
                                            std::shared_ptr<const model_replica> replica,
                                            tbb::task_arena* arena) {
  self->state.id = id;
  self->state.w = std::move(w);
  self->state.replica = std::move(replica);
  self->state.arena = arena;
  return {
      [self](const round_task& task) -> round_result { return compute_round(self->state, task); },
  };
}

}  // namespace baffle
