// The backprop baselines on the server: a task asks for FedSGD's minibatch gradient or FedAvg's
// update after local steps; the step is their weighted mean, applied through the one update path
// (FedSGD through the optimizer, FedAvg added) and sent to every node as a dense update.
#include <utility>

#include "actors/algorithm.hpp"

namespace baffle::server_detail {
namespace {

class baseline_algorithm final : public server_algorithm {
 public:
  explicit baseline_algorithm(baseline kind) : kind_(kind) {}

  round_costs costs(const world& w) const override {
    round_costs costs;
    costs.batch_size = w.sc.train.batch_size;
    backprop_task task;
    costs.task_bytes = wire_size(task);
    costs.model_bytes = w.model_bytes;
    costs.result_bytes = w.dense_result_bytes;
    costs.forward_passes = baseline_steps(w);
    costs.flops_factor = backprop_flops_factor;
    return costs;
  }

  void send(self_ptr self, uint32_t client, uint64_t task_round, uint64_t /*seed_round*/,
            sim_time start, reply_handler reply) const override {
    const world& w = *self->state.w;
    backprop_task task;
    task.round = task_round;
    task.model_version = self->state.model.replica->version;
    task.kind = kind_;
    task.batch_size = static_cast<uint32_t>(w.sc.train.batch_size);
    task.local_steps = static_cast<uint32_t>(baseline_steps(w));
    task.local_lr = static_cast<float>(w.sc.train.local_lr);
    task.start_time = start;
    send_through_node(self, node_backprop_task{client, task}, std::move(reply));
  }

  void step(self_ptr self, const std::vector<contribution>& in, int64_t step) const override {
    auto& st = self->state;
    const std::vector<double> weights = contribution_weights(in);
    const size_t n = st.model.replica->params.size();
    dense_update u;
    u.version = st.model.replica->version + 1;
    u.step = step;
    u.values.assign(n, 0.0);
    for (size_t j = 0; j < in.size(); ++j) {
      const auto& values = std::get<dense_result>(*in[j].result).values;
      for (size_t i = 0; i < n; ++i) u.values[i] += weights[j] * static_cast<double>(values[i]);
    }
    apply_update(st.model, *st.w, u);
    if (st.control.on_dense_update) st.control.on_dense_update(u);
    broadcast(self, u);
  }

 private:
  baseline kind_;
};

}  // namespace

std::unique_ptr<server_algorithm> make_baseline_algorithm(baseline kind) {
  return std::make_unique<baseline_algorithm>(kind);
}

}  // namespace baffle::server_detail
