// A misbehaving worker for tests/tools/distributed_test.cpp: it joins a served run the proper way
// (so its node is given clients), but first sends the registry requests it must refuse, then
// tries to smuggle a node_joined message past the registry to the server, and answers every task
// with a malformed result. The server must log each of these and finish the run with its other
// nodes.
//
//   rogue_worker HOST PORT MODE
//   MODE: scalars (one scalar too many), client (a client id out of range), round (a round from
//         the future)
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/join.hpp"
#include "actors/node.hpp"
#include "actors/protocol.hpp"
#include "actors/round_plan.hpp"
#include "scenarios/loader.hpp"

namespace baffle {
namespace {

struct rogue_state {
  std::string mode;
  std::shared_ptr<const world> w;
  uint32_t clients = 0;
  uint64_t version = 0;
  bool smuggled = false;
};

using rogue_self = node_actor::stateful_pointer<rogue_state>;

/// Tries once to join the run straight through the server, whose handle every message from it
/// carries: the server must ignore this (only its registry admits nodes).
void smuggle(rogue_self self) {
  auto& s = self->state;
  if (s.smuggled || self->current_sender() == nullptr) return;
  s.smuggled = true;
  auto server = caf::actor_cast<server_actor>(self->current_sender());
  self->send(server, node_joined{7, caf::actor_cast<node_actor>(self), "smuggled", 64});
}

round_result bad_result(rogue_self self, const node_round_task& t) {
  smuggle(self);
  const auto& s = self->state;
  // Plausible in everything but the one field its mode spoils: the other checks pass.
  round_result r;
  r.round = t.task.round;
  r.client = t.client;
  r.scalars.assign(static_cast<size_t>(t.task.k), 0.5f);
  r.base_loss = 1.0f;
  r.samples = t.task.batch_size;
  r.forward_passes = t.task.k + 1;
  r.finish_time = compute_finish(*s.w, t.client, t.task.round, t.task.start_time,
                                 r.forward_passes * s.w->net->forward_flops(r.samples));
  if (s.mode == "scalars") r.scalars.push_back(0.5f);
  if (s.mode == "client") r.client = s.clients + 7;
  if (s.mode == "round") r.round = t.task.round + 1000;
  return r;
}

node_actor::behavior_type rogue_node(rogue_self self, std::string mode,
                                     std::shared_ptr<const world> w) {
  self->state.mode = std::move(mode);
  self->state.clients = static_cast<uint32_t>(w->sc.clients.count);
  self->state.w = std::move(w);
  const auto take = [self](uint64_t version) {
    smuggle(self);
    self->state.version = version;
    return version;
  };
  return {
      [take](const model_snapshot& m) { return take(m.version); },
      [take](const model_update& u) { return take(u.version); },
      [take](const dense_update& u) { return take(u.version); },
      [self](const node_round_task& t) { return bad_result(self, t); },
      [self](const node_backprop_task& t) {
        dense_result r;
        r.round = t.task.round + (self->state.mode == "round" ? 1000 : 0);
        r.client = self->state.mode == "client" ? self->state.clients + 7 : t.client;
        r.values.assign(self->state.mode == "scalars" ? 3 : 1, 0.0);
        r.samples = 1;
        return r;
      },
      [](verify_atom, uint64_t) { return std::string("0000000000000000"); },
      [self](const node_layout&) { return self->state.version; },
  };
}

int run(const std::string& host, uint16_t port, const std::string& mode) {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto registry = sys.middleman().remote_actor<registry_actor>(host, port);
  if (!registry) {
    std::cerr << "rogue: cannot reach " << host << ":" << port << "\n";
    return 1;
  }
  caf::scoped_actor self{sys};
  const auto refused = [](caf::error& e) {
    std::cerr << "rogue: refused: " << caf::to_string(e) << "\n";
  };
  // Requests the registry must refuse: an unknown nonce, an unprintable host, a node id never
  // offered.
  self->request(*registry, caf::infinite, join_request{"not-a-nonce", "", 1, "rogue"})
      .receive([](join_offer&) { std::cerr << "rogue: an unknown nonce was accepted\n"; }, refused);
  join_challenge c;
  self->request(*registry, caf::infinite, join_hello{1})
      .receive([&](join_challenge& x) { c = std::move(x); }, refused);
  self->request(*registry, caf::infinite, join_request{c.nonce, "", 1, std::string(300, '\x01')})
      .receive([](join_offer&) { std::cerr << "rogue: a bad host name was accepted\n"; }, refused);
  self->request(*registry, caf::infinite, join_ready{99, node_actor{}, "x"})
      .receive([](uint32_t) { std::cerr << "rogue: an unoffered id was accepted\n"; }, refused);
  // Then a proper join.
  self->request(*registry, caf::infinite, join_hello{1})
      .receive([&](join_challenge& x) { c = std::move(x); }, refused);
  join_offer offer;
  bool offered = false;
  self->request(*registry, caf::infinite, join_request{c.nonce, "", 1, "rogue-host"})
      .receive(
          [&](join_offer& o) {
            offer = std::move(o);
            offered = true;
          },
          refused);
  if (!offered) return 1;
  auto sc = parse_scenario(offer.scenario, "the served scenario");
  if (!sc.ok()) return 1;
  auto w = build_world(*sc.value);
  if (!w) return 1;
  auto node = sys.spawn(rogue_node, mode, std::shared_ptr<const world>(*w));
  bool ready = false;
  self->request(*registry, caf::infinite, join_ready{offer.node, node, offer.data_digest})
      .receive([&](uint32_t) { ready = true; }, refused);
  if (!ready) return 1;
  std::printf("rogue: joined as node %u\n", offer.node);
  std::fflush(stdout);
  // Until the server ends the node (it is lost) or goes away.
  self->monitor(node);
  self->monitor(*registry);
  self->receive([](const caf::down_msg&) {});
  self->send_exit(node, caf::exit_reason::user_shutdown);
  return 0;
}

}  // namespace
}  // namespace baffle

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: rogue_worker HOST PORT scalars|client|round\n";
    return 2;
  }
  return baffle::run(argv[1], static_cast<uint16_t>(std::stoi(argv[2])), argv[3]);
}
