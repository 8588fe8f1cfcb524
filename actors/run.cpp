// Wiring: actor system, clients, server, and the initial model.
#include "actors/run.hpp"

#include "actors/client.hpp"
#include "actors/server.hpp"

namespace baffle {

federation spawn_federation(caf::actor_system& sys, std::shared_ptr<const world> w,
                            metrics_sink* sink, tbb::task_arena* arena, workspace_pool* pool,
                            const run_options* opt) {
  federation f;
  model_state model = initial_model(*w);
  f.replica = model.replica;
  f.clients.reserve(w->sc.clients.count);
  for (int c = 0; c < w->sc.clients.count; ++c) {
    f.clients.push_back(sys.spawn(client_behavior, static_cast<uint32_t>(c), w,
                                  std::shared_ptr<const model_replica>(f.replica), arena, pool));
  }
  run_control control;
  if (opt != nullptr) {
    control.stop_requested = opt->stop_requested;
    control.resume_state = opt->resume_state;
    control.on_update = opt->on_update;
    control.on_dense_update = opt->on_dense_update;
  }
  f.server = sys.spawn(server_behavior, w, std::move(model), f.clients, sink, arena, pool,
                       std::move(control));
  return f;
}

run_outcome run_simulation(std::shared_ptr<const world> w, const run_options& opt,
                           metrics_sink* sink) {
  const int threads = std::max(1, opt.threads);
  caf::actor_system_config cfg;
  add_message_types(cfg);
  cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
  caf::actor_system sys{cfg};
  tbb::task_arena arena(threads);
  workspace_pool pool;  // outlives the actors: they are stopped before this function returns
  auto f = spawn_federation(sys, std::move(w), sink, &arena, &pool, &opt);

  run_outcome outcome;
  caf::scoped_actor self{sys};
  self->request(f.server, caf::infinite, run_atom::value)
      .receive([&](run_outcome& o) { outcome = std::move(o); },
               [&](caf::error& e) { outcome.error = sys.render(e); });
  self->send_exit(f.server, caf::exit_reason::user_shutdown);
  for (auto& c : f.clients) self->send_exit(c, caf::exit_reason::user_shutdown);
  return outcome;
}

}  // namespace baffle
