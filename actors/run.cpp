// Wiring: actor system, clients, server, and the initial model.
#include "actors/run.hpp"

#include "actors/node.hpp"
#include "actors/server.hpp"

namespace baffle {

federation spawn_federation(caf::actor_system& sys, std::shared_ptr<const world> w,
                            metrics_sink* sink, tbb::task_arena* arena, workspace_pool* pool,
                            const run_options* opt) {
  federation f;
  model_state model = initial_model(*w);
  f.replica = model.replica;
  const auto nodes = static_cast<uint32_t>(std::max(1, opt != nullptr ? opt->nodes : 1));
  for (uint32_t n = 0; n < nodes; ++n)
    f.nodes.push_back(sys.spawn(node_behavior, n, nodes, w, arena, pool));
  run_control control;
  if (opt != nullptr) {
    control.stop_requested = opt->stop_requested;
    control.resume_state = opt->resume_state;
    control.on_update = opt->on_update;
    control.on_dense_update = opt->on_dense_update;
    control.verify_every = opt->verify_every;
  }
  f.server = sys.spawn(server_behavior, w, std::move(model), f.nodes, sink, arena, pool,
                       std::move(control));
  return f;
}

run_outcome run_simulation(std::shared_ptr<const world> w, const run_options& opt,
                           metrics_sink* sink) {
  const int threads = std::max(1, opt.threads);
  caf::actor_system_config cfg;
  add_message_types(cfg);
  cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
  // The arena and pool are declared before the actor system, so they outlive it: its destructor
  // waits for every actor, including clients still computing when a run stops early.
  tbb::task_arena arena(threads);
  workspace_pool pool;
  caf::actor_system sys{cfg};
  auto f = spawn_federation(sys, std::move(w), sink, &arena, &pool, &opt);

  run_outcome outcome;
  caf::scoped_actor self{sys};
  self->request(f.server, caf::infinite, run_atom::value)
      .receive([&](run_outcome& o) { outcome = std::move(o); },
               [&](caf::error& e) { outcome.error = sys.render(e); });
  self->send_exit(f.server, caf::exit_reason::user_shutdown);
  for (auto& n : f.nodes) self->send_exit(n, caf::exit_reason::user_shutdown);
  return outcome;
}

}  // namespace baffle
