// Hostile messages on the path a served run really takes: CAF's binary format of a type-erased
// message (what the middleman carries between processes) decoded by CAF itself, then the
// receiving actor. A round_result claiming 2^32 - 1 scalars fails in CAF's decoder without a large
// allocation; a result for a client out of range stops the server's run with the reason; a node
// refuses updates from the future, malformed updates and snapshots, and keeps its replica. One
// test pins a fault of CAF 0.17.6's decoder that is still open (it throws).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/model_state.hpp"
#include "actors/node.hpp"
#include "actors/run.hpp"
#include "actors/wire.hpp"
#include "tests/actors/toy_world.hpp"
#include "tests/actors/wire_testing.hpp"

namespace baffle {
namespace {

using test::largest;
using test::tracking;
using test::varbyte;

/// A message as the middleman sends it to another process: CAF's binary format of the
/// type-erased message (type names, then the fields).
template <class T>
std::vector<char> wire_bytes(caf::actor_system& sys, const T& x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  caf::message m = caf::make_message(x);
  if (auto err = sink(m)) ADD_FAILURE() << sys.render(err);
  return buf;
}

/// What the receiving process makes of the bytes: CAF's own decoder, as the middleman runs it
/// (nothing when it fails).
std::optional<caf::message> decode_as_middleman(caf::actor_system& sys,
                                                const std::vector<char>& bytes) {
  caf::binary_deserializer source{sys, bytes};
  caf::message m;
  if (auto err = source(m)) return std::nullopt;
  if (source.remaining() != 0) return std::nullopt;
  return m;
}

/// x sent to another process and decoded there.
template <class T>
T across_processes(caf::actor_system& sys, const T& x) {
  auto m = decode_as_middleman(sys, wire_bytes(sys, x));
  if (!m || !m->template match_elements<T>()) {
    ADD_FAILURE() << "did not decode";
    return x;
  }
  return m->template get_as<T>(0);
}

struct actors {
  actors() { configure_actor_system(cfg, 2); }
  caf::actor_system_config cfg;
  tbb::task_arena arena{1};  // before the system: clients may still compute when it stops
  workspace_pool pool;
  caf::actor_system sys{cfg};
};

TEST(ReceivePath, RoundResultClaimingFourBillionScalarsFailsInCafsDecoderWithoutALargeAllocation) {
  actors a;
  round_result r;
  r.round = 0x0102030405060708ull;  // a pattern to find the message's fields by
  r.client = 3;
  r.scalars.assign(16, 0.25f);
  r.samples = 8;
  const std::vector<char> good = wire_bytes(a.sys, r);
  const std::vector<char> fields = encode_message(r);
  const auto at = std::search(good.begin(), good.end(), fields.begin(), fields.end());
  ASSERT_NE(at, good.end());
  const size_t prefix = static_cast<size_t>(at - good.begin()) + 12;  // after round and client
  ASSERT_EQ(good[prefix], 16);
  std::vector<char> forged(good.begin(), good.begin() + static_cast<ptrdiff_t>(prefix));
  const std::vector<char> huge = varbyte(0xFFFFFFFFull);
  forged.insert(forged.end(), huge.begin(), huge.end());
  forged.insert(forged.end(), good.begin() + static_cast<ptrdiff_t>(prefix) + 1, good.end());
  ASSERT_TRUE(decode_as_middleman(a.sys, good).has_value());

  largest = 0;
  tracking = true;
  const auto m = decode_as_middleman(a.sys, forged);
  tracking = false;
  // CAF 0.17 grows the vector one element at a time until the bytes run out, then does not
  // report the element's failure: the message comes out empty, which matches no handler (a
  // requester gets an unexpected-response error). No round_result reaches an actor, and nothing
  // near 4 x 2^32 bytes was asked for.
  EXPECT_TRUE(!m || !m->template match_elements<round_result>());
  EXPECT_LT(largest.load(), 4096u);
}

// Found by tests/fuzz/fuzz_messages.cpp (middleman mode), open in CAF 0.17.6: a message may name
// any type CAF registers itself, and loading a caf::config_value whose variant index is out of
// range throws std::runtime_error ("invalid type found") instead of returning an error. The
// middleman decodes without catching (basp::remote_message_handler), so one such message from
// any peer that completed CAF's handshake would end the process. Nothing of ours runs before it;
// TLS with both sides authenticated keeps such peers out (docs/hardening.md). This test pins the
// behaviour, so a CAF that fixes it shows up here.
TEST(ReceivePath, CafsDecoderThrowsOnAConfigValueOfUnknownKind) {
  actors a;
  std::vector<char> bytes = wire_bytes(a.sys, caf::config_value{int64_t{5}});
  // The type names ("@<>+@config_value", after two zero bytes and its length), then the
  // variant's index (0: int64) and the value.
  const std::string names = "@<>+@config_value";
  ASSERT_EQ(
      std::string(bytes.begin() + 3, bytes.begin() + 3 + static_cast<ptrdiff_t>(names.size())),
      names);
  const size_t index = 3 + names.size();
  ASSERT_EQ(bytes[index], 0);
  ASSERT_TRUE(decode_as_middleman(a.sys, bytes).has_value());
  bytes[index] = 0x7f;
  EXPECT_THROW(decode_as_middleman(a.sys, bytes), std::runtime_error);
}

/// A node that passes everything to `real` but changes each round result before answering,
/// sending it through CAF's binary format as a worker process would.
node_actor::behavior_type tampering_node(node_actor::pointer self, node_actor real,
                                         std::function<void(round_result&)> tamper) {
  return {
      [=](const model_snapshot& s) { return self->delegate(real, s); },
      [=](const model_update& u) { return self->delegate(real, u); },
      [=](const dense_update& u) { return self->delegate(real, u); },
      [=](const node_backprop_task& t) { return self->delegate(real, t); },
      [=](verify_atom v, uint64_t version) { return self->delegate(real, v, version); },
      [=](const node_layout& l) { return self->delegate(real, l); },
      [=](const node_round_task& t) {
        auto reply = self->make_response_promise<round_result>();
        self->request(real, caf::infinite, t)
            .then(
                [=](round_result r) mutable {
                  tamper(r);
                  reply.deliver(across_processes(self->system(), r));
                },
                [=](caf::error& e) mutable { reply.deliver(std::move(e)); });
        return reply;
      },
  };
}

/// A node that passes everything to `real` but answers every round task with an empty message:
/// what CAF delivers for a result that failed to decode (above).
caf::behavior empty_answers(caf::event_based_actor* self, node_actor real) {
  return {
      [=](const model_snapshot& s) { return self->delegate(real, s); },
      [=](const model_update& u) { return self->delegate(real, u); },
      [=](const dense_update& u) { return self->delegate(real, u); },
      [=](verify_atom v, uint64_t version) { return self->delegate(real, v, version); },
      [=](const node_round_task&) { return caf::message{}; },
  };
}

/// The outcome of a run whose one node is `spawn_node(real)`.
run_outcome run_through(
    const std::function<node_actor(caf::actor_system&, node_actor)>& spawn_node) {
  scenario sc = toy_scenario();
  sc.train.rounds = 3;
  auto w = build_world(sc, toy_data(120, 30));
  EXPECT_TRUE(w.ok());
  actors a;
  auto real = a.sys.spawn(node_behavior, uint32_t{0}, uint32_t{1}, *w, &a.arena, &a.pool);
  const node_actor outer = spawn_node(a.sys, real);
  run_options opt{1};
  opt.nodes = 0;
  opt.remote_nodes = {outer};
  auto f = spawn_federation(a.sys, *w, nullptr, &a.arena, &a.pool, &opt);
  caf::scoped_actor self{a.sys};
  run_outcome o;
  self->request(f.server, caf::infinite, run_atom::value)
      .receive([&](const run_outcome& r) { o = r; },
               [](const caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  self->send_exit(f.server, caf::exit_reason::user_shutdown);
  self->send_exit(outer, caf::exit_reason::user_shutdown);
  self->send_exit(real, caf::exit_reason::user_shutdown);
  return o;
}

/// The outcome of a run whose one node tampers with every round result.
run_outcome run_with_tampering_node(std::function<void(round_result&)> tamper) {
  return run_through([&](caf::actor_system& sys, node_actor real) {
    return sys.spawn(tampering_node, real, tamper);
  });
}

TEST(ReceivePath, AResultThatFailedToDecodeStopsTheRun) {
  const run_outcome o = run_through([](caf::actor_system& sys, node_actor real) {
    return caf::actor_cast<node_actor>(sys.spawn(empty_answers, real));
  });
  EXPECT_NE(o.error.find("unexpected_response"), std::string::npos) << o.error;
  EXPECT_LT(o.rounds, 3);
}

TEST(ReceivePath, ResultsCrossingTheWireUnchangedGiveTheRun) {
  const run_outcome o = run_with_tampering_node([](round_result&) {});
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.rounds, 3);
}

TEST(ReceivePath, AResultForAClientOutOfRangeStopsTheRunWithTheReason) {
  const run_outcome o = run_with_tampering_node([](round_result& r) { r.client = 4000000000u; });
  EXPECT_NE(o.error.find("answered for client 4000000000"), std::string::npos) << o.error;
  EXPECT_LT(o.rounds, 3);
}

TEST(ReceivePath, AResultWithOneScalarTooManyOrNotFiniteStopsTheRun) {
  run_outcome o = run_with_tampering_node([](round_result& r) { r.scalars.push_back(0.f); });
  EXPECT_NE(o.error.find("17 scalars for K = 16"), std::string::npos) << o.error;
  o = run_with_tampering_node(
      [](round_result& r) { r.scalars[5] = std::numeric_limits<float>::quiet_NaN(); });
  EXPECT_NE(o.error.find("payload[5] is not finite"), std::string::npos) << o.error;
}

/// A node of a small world, and requests to it that return the refusal text ("" when accepted).
struct one_node {
  one_node() {
    auto built = build_world(toy_scenario(), toy_data(120, 30));
    EXPECT_TRUE(built.ok());
    w = *built;
    node = a.sys.spawn(node_behavior, uint32_t{0}, uint32_t{1}, w, &a.arena, &a.pool);
  }
  ~one_node() { caf::anon_send_exit(node, caf::exit_reason::user_shutdown); }

  /// Sends m through CAF's binary format, as a server in another process would.
  template <class T>
  std::string send(const T& m) {
    caf::scoped_actor self{a.sys};
    std::string refusal = "no answer";
    self->request(node, caf::infinite, across_processes(a.sys, m))
        .receive([&](uint64_t) { refusal.clear(); },
                 [&](const caf::error& e) { refusal = e.context().get_as<std::string>(0); });
    return refusal;
  }
  std::string digest(uint64_t version) {
    caf::scoped_actor self{a.sys};
    std::string d;
    self->request(node, caf::infinite, verify_atom::value, version)
        .receive([&](const std::string& s) { d = s; },
                 [&](const caf::error& e) { d = e.context().get_as<std::string>(0); });
    return d;
  }
  model_update update(uint64_t version) const {
    model_update u;
    u.version = version;
    u.step = 1;
    u.seeds = {42};
    u.coefficients.assign(static_cast<size_t>(w->sc.baffle.k), 0.1);
    return u;
  }

  actors a;
  std::shared_ptr<const world> w;
  node_actor node;
};

TEST(ReceivePath, ANodeRefusesAnUpdateFromTheFutureAndKeepsItsReplica) {
  one_node n;
  const std::string before = n.digest(0);
  for (uint64_t v : {uint64_t{2}, uint64_t{1000}, ~uint64_t{0}}) {
    EXPECT_EQ(n.send(n.update(v)), "node 0: update to version " + std::to_string(v) +
                                       " refused: the replica holds version 0 (updates must come "
                                       "in order)");
  }
  EXPECT_EQ(n.digest(0), before);
  EXPECT_EQ(n.send(n.update(1)), "");
  EXPECT_NE(n.digest(1), before);
}

TEST(ReceivePath, ANodeRefusesMalformedUpdatesBeforeTheyWaitOrApply) {
  one_node n;
  const std::string before = n.digest(0);
  model_update u = n.update(1);
  u.coefficients[3] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(n.send(u), "node 0: model_update: coefficients[3] is not finite");
  u = n.update(1);
  const uint32_t groups = limits_for(*n.w).max_seed_groups;
  u.seeds.assign(groups + 1, 7);
  u.coefficients.assign(u.seeds.size() * static_cast<size_t>(n.w->sc.baffle.k), 0.1);
  EXPECT_EQ(n.send(u), "node 0: model_update: " + std::to_string(groups + 1) + " seeds (at most " +
                           std::to_string(groups) + ")");
  u = n.update(1);
  u.step = -1;
  EXPECT_EQ(n.send(u), "node 0: model_update: step -1");
  dense_update d{1, 1, std::vector<double>(3, 0.0)};
  EXPECT_NE(n.send(d).find("node 0: dense_update: values has 3 elements"), std::string::npos);
  EXPECT_EQ(n.digest(0), before);
  EXPECT_EQ(n.send(n.update(1)), "");  // the node still works
}

TEST(ReceivePath, ANodeRefusesMalformedSnapshotsAndSnapshotsFromThePast) {
  one_node n;
  const std::string before = n.digest(0);
  model_state m = initial_model(*n.w);
  model_snapshot s = snapshot_of(m);
  s.version = 5;
  model_snapshot bad = s;
  bad.params[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(n.send(bad), "node 0: model_snapshot: params[2] is not finite");
  bad = s;
  bad.params.pop_back();
  EXPECT_NE(n.send(bad).find("node 0: model_snapshot: params has"), std::string::npos);
  bad = s;
  bad.opt_step = -3;
  EXPECT_EQ(n.send(bad), "node 0: model_snapshot: optimizer step -3");
  EXPECT_EQ(n.digest(0), before);
  EXPECT_EQ(n.send(s), "");
  EXPECT_EQ(n.digest(5), before);  // same weights, now at version 5
  s.version = 4;
  EXPECT_EQ(n.send(s),
            "node 0: a model snapshot at version 4 refused: the replica holds version 5");
  EXPECT_EQ(n.digest(5), before);
}

}  // namespace
}  // namespace baffle
