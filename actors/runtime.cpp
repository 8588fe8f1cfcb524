// The runtime of one process (see runtime.hpp).
#include "actors/runtime.hpp"

#include <algorithm>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

namespace baffle {

void fanout_sink::on_round(const round_record& r) {
  for (metrics_sink* s : sinks_) s->on_round(r);
}

void fanout_sink::on_clients(const std::vector<client_record>& clients) {
  for (metrics_sink* s : sinks_) s->on_clients(clients);
}

void fanout_sink::on_events(const std::vector<event_record>& events) {
  for (metrics_sink* s : sinks_) s->on_events(events);
}

void fanout_sink::on_nodes(const std::vector<node_record>& nodes) {
  for (metrics_sink* s : sinks_) s->on_nodes(nodes);
}

void fanout_sink::on_log(const std::string& line) {
  for (metrics_sink* s : sinks_) s->on_log(line);
}

void fanout_sink::on_checkpoint(int64_t round, std::string state) {
  for (metrics_sink* s : sinks_) s->on_checkpoint(round, state);
}

runtime::runtime(options opt)
    : arena_(std::max(1, opt.threads)),
      network_(opt.network),
      config_(std::make_unique<caf::actor_system_config>()) {
  add_message_types(*config_);
  config_->set("scheduler.max-threads", static_cast<size_t>(std::max(1, opt.threads)));
  if (network_) {
    config_->load<caf::io::middleman>();
    // A hung peer is noticed too, not only a closed connection.
    const auto timeout = std::chrono::duration_cast<caf::timespan>(
        std::chrono::duration<double>(std::max(0.1, opt.peer_timeout_s)));
    const auto heartbeat = std::min<caf::timespan>(timeout / 10, std::chrono::seconds(1));
    config_->set("middleman.heartbeat-interval", heartbeat);
    config_->set("middleman.connection-timeout", timeout);
    if (opt.tls()) {
      // Both sides present a certificate and verify the peer's against the CA (CAF's session
      // requires a peer certificate whenever one of these is set).
      config_->load<caf::openssl::manager>();
      config_->openssl_certificate = opt.tls_certificate;
      config_->openssl_key = opt.tls_key;
      config_->openssl_cafile = opt.tls_ca;
      tls_ = true;
    }
  }
  system_ = std::make_unique<caf::actor_system>(*config_);
}

run_outcome runtime::run(std::shared_ptr<const world> w, const run_options& opt) {
  caf::actor_system& sys = *system_;
  auto f = spawn_federation(sys, std::move(w), sinks_.empty() ? nullptr : &sinks_, &arena_, &pool_,
                            &opt);
  run_outcome outcome;
  caf::scoped_actor self{sys};
  self->request(f.server, caf::infinite, run_atom::value)
      .receive([&](run_outcome& o) { outcome = std::move(o); },
               [&](caf::error& e) { outcome.error = sys.render(e); });
  self->send_exit(f.server, caf::exit_reason::user_shutdown);
  for (auto& n : f.nodes) self->send_exit(n, caf::exit_reason::user_shutdown);
  // Nodes in worker processes (those the run started with, and any that joined it) end when
  // their exit arrives; wait for that (bounded), so the exits leave before this process does and
  // every worker learns that the run is over.
  size_t remote = 0;
  for (auto& n : outcome.nodes) {
    if (n.node() == sys.node()) continue;
    self->send_exit(n, caf::exit_reason::user_shutdown);
    self->monitor(n);
    ++remote;
  }
  for (auto& n : opt.remote_nodes) {
    if (std::any_of(outcome.nodes.begin(), outcome.nodes.end(),
                    [&](const caf::actor& a) { return a.address() == n.address(); }))
      continue;
    self->monitor(n);
    ++remote;
  }
  while (remote > 0) {
    self->receive([&](const caf::down_msg&) { --remote; },
                  caf::after(std::chrono::seconds(10)) >> [&] { remote = 0; });
  }
  return outcome;
}

}  // namespace baffle
