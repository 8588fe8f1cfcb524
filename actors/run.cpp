// Wiring: actor system, clients, server, and the initial model.
#include "actors/run.hpp"

#include "actors/node.hpp"
#include "actors/runtime.hpp"
#include "actors/server.hpp"

namespace baffle {

federation spawn_federation(caf::actor_system& sys, std::shared_ptr<const world> w,
                            metrics_sink* sink, tbb::task_arena* arena, workspace_pool* pool,
                            const run_options* opt) {
  federation f;
  model_state model = initial_model(*w);
  f.replica = model.replica;
  const bool remote = opt != nullptr && !opt->remote_nodes.empty();
  const int wanted = remote                             ? opt->nodes
                     : opt != nullptr && opt->nodes > 0 ? opt->nodes
                                                        : w->sc.run.nodes;
  const auto local = static_cast<uint32_t>(std::max(remote ? 0 : 1, wanted));
  const auto nodes = local + static_cast<uint32_t>(remote ? opt->remote_nodes.size() : 0);
  run_control control;
  for (uint32_t n = 0; n < local; ++n) {
    f.nodes.push_back(sys.spawn(node_behavior, n, nodes, w, arena, pool));
    node_record r;
    if (opt != nullptr && opt->local_capacity > 0) r.threads = opt->local_capacity;
    control.node_info.push_back(r);
  }
  if (remote) {
    f.nodes.insert(f.nodes.end(), opt->remote_nodes.begin(), opt->remote_nodes.end());
    for (size_t i = 0; i < opt->remote_nodes.size(); ++i) {
      node_record r;
      r.host = "remote";
      if (i < opt->remote_info.size()) r = opt->remote_info[i];
      control.node_info.push_back(r);
    }
  }
  if (opt != nullptr) {
    control.stop_requested = opt->stop_requested;
    control.resume_state = opt->resume_state;
    control.on_update = opt->on_update;
    control.on_dense_update = opt->on_dense_update;
    control.verify_every = opt->verify_every;
    control.registry = opt->registry;
  }
  if (control.verify_every <= 0) {
    control.verify_every = w->sc.run.verify_every;
  }
  f.server = sys.spawn(server_behavior, w, std::move(model), f.nodes, sink, arena, pool,
                       std::move(control));
  if (opt != nullptr && opt->on_server) opt->on_server(f.server);
  return f;
}

run_outcome run_simulation(std::shared_ptr<const world> w, const run_options& opt,
                           metrics_sink* sink) {
  runtime rt({opt.threads, false});
  if (sink != nullptr) rt.attach(sink);
  return rt.run(std::move(w), opt);
}

}  // namespace baffle
