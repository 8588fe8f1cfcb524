// Wiring: actor system, clients, server, and the initial model.
#include "actors/run.hpp"

#include "actors/client.hpp"
#include "actors/server.hpp"

namespace baffle {

federation spawn_federation(caf::actor_system& sys, std::shared_ptr<const world> w,
                            metrics_sink* sink, tbb::task_arena* arena, workspace_pool* pool,
                            const run_options* opt) {
  federation f;
  f.replica = std::make_shared<model_replica>();
  f.replica->params = xt::zeros<float>({static_cast<size_t>(w->net->param_count())});
  w->net->init(f.replica->view(), derive_seed(w->sc.seed, purpose::init, 0));
  f.clients.reserve(w->sc.clients.count);
  for (int c = 0; c < w->sc.clients.count; ++c) {
    f.clients.push_back(sys.spawn(client_behavior, static_cast<uint32_t>(c), w,
                                  std::shared_ptr<const model_replica>(f.replica), arena, pool));
  }
  run_control control;
  if (opt != nullptr) {
    control.stop_requested = opt->stop_requested;
    control.resume_state = opt->resume_state;
  }
  f.server = sys.spawn(server_behavior, w, f.replica, f.clients, sink, arena, pool,
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
