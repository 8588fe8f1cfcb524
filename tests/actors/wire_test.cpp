// Tests for actors/wire.hpp: every message round-trips through CAF's binary format within the
// scenario's limits; a round_result claiming 2^32 - 1 scalars is refused before anything large is
// allocated; out-of-range client ids, sizes, enums and truncated or trailing bytes are refused;
// a model update from the future is refused by the one update path.
#include "actors/wire.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "actors/model_state.hpp"
#include "tests/actors/toy_world.hpp"
#include "tests/actors/wire_testing.hpp"

namespace baffle {
namespace {

using test::largest;
using test::tracking;
using test::varbyte;

/// Limits of a small scenario: 10 clients, K = 8, a model of 50 floats.
message_limits small_limits() {
  message_limits l;
  l.clients = 10;
  l.k = 8;
  l.model_size = 50;
  l.max_samples = 32;
  l.max_forward_passes = 17;
  l.max_local_steps = 1;
  l.max_seed_groups = 3;
  return l;
}

round_result good_result() {
  round_result r;
  r.round = 4;
  r.client = 9;
  r.scalars.assign(8, 0.25f);
  r.base_loss = 1.5f;
  r.samples = 32;
  r.finish_time = sim_time::from_ms(120);
  r.forward_passes = 9;
  return r;
}

TEST(Wire, EveryMessageRoundTripsWithinTheLimits) {
  const message_limits l = small_limits();
  round_task t;
  t.round = 3;
  t.model_version = 2;
  t.round_seed = 77;
  t.k = 8;
  t.sigma = 1e-3f;
  t.scheme = fd_scheme::central;
  t.seeds = seed_mode::per_client;
  t.batch_size = 32;
  t.start_time = sim_time::from_ms(5);
  const auto t2 = decode_message<round_task>(encode_message(t), l);
  ASSERT_TRUE(t2.ok()) << t2.error();
  EXPECT_EQ(t2->round_seed, 77u);
  EXPECT_EQ(t2->scheme, fd_scheme::central);
  EXPECT_EQ(t2->start_time, t.start_time);

  const auto r = decode_message<round_result>(encode_message(good_result()), l);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->scalars, good_result().scalars);
  EXPECT_EQ(r->client, 9u);

  model_update u{5, 4, {11, 12}, std::vector<double>(16, 0.5)};
  const auto u2 = decode_message<model_update>(encode_message(u), l);
  ASSERT_TRUE(u2.ok()) << u2.error();
  EXPECT_EQ(u2->seeds, u.seeds);
  EXPECT_EQ(u2->coefficients, u.coefficients);

  dense_update d{5, 4, std::vector<double>(50, -1.0)};
  ASSERT_TRUE((decode_message<dense_update>(encode_message(d), l).ok()));
  dense_result dr{1, 2, std::vector<float>(50, 1.f), 0.5f, 10, sim_time::from_ms(1), 1};
  ASSERT_TRUE((decode_message<dense_result>(encode_message(dr), l).ok()));
  backprop_task b{1, 0, baseline::fedavg, 32, 1, 0.1f, sim_time{}};
  ASSERT_TRUE((decode_message<backprop_task>(encode_message(b), l).ok()));
  ASSERT_TRUE((decode_message<node_round_task>(encode_message(node_round_task{3, t}), l).ok()));
  ASSERT_TRUE(
      (decode_message<node_backprop_task>(encode_message(node_backprop_task{3, b}), l).ok()));
  model_snapshot s{7, std::vector<float>(50, 1.f), {}, {}, 7, std::vector<float>(50, 2.f)};
  ASSERT_TRUE((decode_message<model_snapshot>(encode_message(s), l).ok()));
  run_outcome o;
  o.rounds = 3;
  o.model_digest = "0123456789abcdef";
  o.error = "client 3: answered round 2 instead of 3";
  const auto o2 = decode_message<run_outcome>(encode_message(o), l);
  ASSERT_TRUE(o2.ok()) << o2.error();
  EXPECT_EQ(o2->error, o.error);
  EXPECT_EQ(o2->model_digest, o.model_digest);
}

TEST(Wire, RoundResultClaimingFourBillionScalarsIsRefusedWithoutALargeAllocation) {
  // round (8 bytes) and client (4 bytes), then the scalars' length prefix (one byte for K = 8).
  const std::vector<char> good = encode_message(good_result());
  ASSERT_EQ(good[12], 8);
  std::vector<char> forged(good.begin(), good.begin() + 12);
  const std::vector<char> huge = varbyte(0xFFFFFFFFull);
  ASSERT_EQ(huge.size(), 5u);
  forged.insert(forged.end(), huge.begin(), huge.end());
  forged.insert(forged.end(), good.begin() + 13, good.end());

  largest = 0;
  tracking = true;
  const auto r = decode_message<round_result>(forged, small_limits());
  tracking = false;
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("sequence of 4294967295 elements"), std::string::npos) << r.error();
  // Only the error text and the empty message were allocated: nothing near 4 x 2^32 bytes.
  EXPECT_LT(largest.load(), 4096u);

  // A length the limits allow but the bytes cannot hold is refused the same way.
  std::vector<char> short_claim(good.begin(), good.begin() + 12);
  short_claim.push_back(8);
  EXPECT_FALSE((decode_message<round_result>(short_claim, small_limits()).ok()));
}

TEST(Wire, ClientIdOutOfRangeIsRefused) {
  round_result r = good_result();
  r.client = 10;  // the scenario has clients 0..9
  const auto decoded = decode_message<round_result>(encode_message(r), small_limits());
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.error().find("client 10 is out of range"), std::string::npos)
      << decoded.error();
  dense_result d{1, 4000000000u, std::vector<float>(50, 0.f), 0.f, 1, sim_time{}, 1};
  EXPECT_FALSE((decode_message<dense_result>(encode_message(d), small_limits()).ok()));
  node_round_task t{10, round_task{}};
  EXPECT_FALSE((decode_message<node_round_task>(encode_message(t), small_limits()).ok()));
}

TEST(Wire, WrongSizesEnumsAndCountsAreRefusedWithTheReason) {
  const message_limits l = small_limits();
  round_result r = good_result();
  r.scalars.resize(7);
  auto e = decode_message<round_result>(encode_message(r), l);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().find("7 scalars for K = 8"), std::string::npos) << e.error();

  r = good_result();
  r.samples = 33;
  EXPECT_FALSE((decode_message<round_result>(encode_message(r), l).ok()));
  r = good_result();
  r.finish_time = sim_time::from_ns(-1);
  EXPECT_FALSE((decode_message<round_result>(encode_message(r), l).ok()));

  round_task t;
  t.k = 8;
  t.sigma = 1e-3f;
  t.batch_size = 32;
  t.scheme = static_cast<fd_scheme>(7);
  const auto te = decode_message<round_task>(encode_message(t), l);
  ASSERT_FALSE(te.ok());
  EXPECT_NE(te.error().find("unknown finite-difference scheme"), std::string::npos) << te.error();

  // Four seeds when at most three results are aggregated: their 32 coefficients pass the bound
  // of 3 x K = 24 sequence elements, so the decoder refuses them before allocating.
  model_update u{5, 4, {1, 2, 3, 4}, std::vector<double>(32, 0.5)};
  EXPECT_FALSE((decode_message<model_update>(encode_message(u), l).ok()));
  u = model_update{5, 4, {1, 2}, std::vector<double>(15, 0.5)};
  EXPECT_FALSE((decode_message<model_update>(encode_message(u), l).ok()));

  dense_update d{5, 4, std::vector<double>(49, 0.0)};
  EXPECT_FALSE((decode_message<dense_update>(encode_message(d), l).ok()));
  model_snapshot s{7, std::vector<float>(50, 1.f), std::vector<float>(3), {}, 7, {}};
  EXPECT_FALSE((decode_message<model_snapshot>(encode_message(s), l).ok()));
  run_outcome o;
  o.error_class = static_cast<error_kind>(9);
  EXPECT_FALSE((decode_message<run_outcome>(encode_message(o), l).ok()));
  o = run_outcome{};
  o.error.assign(l.max_string + 1, 'x');
  EXPECT_FALSE((decode_message<run_outcome>(encode_message(o), l).ok()));
}

TEST(Wire, NodeLayoutsAreBoundedBeforeAllocationAndChecked) {
  const message_limits l = small_limits();
  const auto good = decode_message<node_layout>(encode_message(node_layout{{2, 0, 1}}), l);
  ASSERT_TRUE(good.ok()) << good.error();
  EXPECT_EQ(good->capacity, (std::vector<uint32_t>{2, 0, 1}));

  const auto none = decode_message<node_layout>(encode_message(node_layout{{0, 0}}), l);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no node holds clients"), std::string::npos) << none.error();
  EXPECT_FALSE((decode_message<node_layout>(encode_message(node_layout{}), l).ok()));
  const auto big =
      decode_message<node_layout>(encode_message(node_layout{{1, max_node_capacity + 1}}), l);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().find("capacity of 1025"), std::string::npos) << big.error();

  // A layout claiming 2^32 - 1 nodes: its length prefix alone, refused before any allocation.
  std::vector<char> bytes = varbyte(0xffffffffu);
  bytes.resize(bytes.size() + 64, 0);
  largest = 0;
  tracking = true;
  const auto huge = decode_message<node_layout>(bytes, l);
  tracking = false;
  ASSERT_FALSE(huge.ok());
  EXPECT_LT(largest.load(), size_t{4096});
  // One node more than the bound, each of capacity 1, is refused by the decoder too.
  const auto many = decode_message<node_layout>(
      encode_message(node_layout{std::vector<uint32_t>(l.max_nodes + 1, 1)}), l);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.error().find("node_layout: refused"), std::string::npos) << many.error();
}

// Found by tests/fuzz/fuzz_messages.cpp: CAF 0.17's serializer never returns on an infinite
// float (pack754 halves infinity until it is below 2), so wire_size, which the server applies to
// every update it broadcasts, hung on a diverging run's update. It now counts without writing.
TEST(Wire, SizesAreCountedWithoutSerializingAndMatchTheEncoding) {
  const double inf = std::numeric_limits<double>::infinity();
  model_update u{5, 4, {11, 12}, std::vector<double>(16, 0.5)};
  EXPECT_EQ(wire_size(u), encode_message(u).size());
  const uint64_t finite_size = wire_size(u);
  u.coefficients[3] = inf;
  u.coefficients[4] = std::nan("");
  EXPECT_EQ(wire_size(u), finite_size);
  round_result r = good_result();
  EXPECT_EQ(wire_size(r), encode_message(r).size());
  r.scalars[0] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(wire_size(r), encode_message(good_result()).size());
  run_outcome o;
  o.error = "text";
  EXPECT_EQ(wire_size(o), encode_message(o).size());
  model_snapshot s{7, std::vector<float>(50, 1.f), {}, {}, 7, std::vector<float>(50, 2.f)};
  EXPECT_EQ(wire_size(s), encode_message(s).size());
}

TEST(Wire, NonFiniteValuesAreRefused) {
  const message_limits l = small_limits();
  round_result r = good_result();
  r.scalars[2] = std::numeric_limits<float>::quiet_NaN();  // NaN encodes; infinity would hang
  const auto e = decode_message<round_result>(encode_message(r), l);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().find("payload[2] is not finite"), std::string::npos) << e.error();
  model_update u{5, 4, {11}, std::vector<double>(8, 0.5)};
  u.coefficients[7] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE((decode_message<model_update>(encode_message(u), l).ok()));
  // Bits that CAF's decoder turns into infinity are refused too: exponent all ones (CAF writes
  // a float as its IEEE 754 bits in network byte order).
  std::vector<char> bytes = encode_message(good_result());
  const size_t first_scalar = 13;  // round, client, the one-byte length prefix
  bytes[first_scalar + 0] = static_cast<char>(0x7f);
  bytes[first_scalar + 1] = static_cast<char>(0x80);
  bytes[first_scalar + 2] = 0;
  bytes[first_scalar + 3] = 0;
  EXPECT_FALSE((decode_message<round_result>(bytes, l).ok()));
}

TEST(Wire, TruncatedAndTrailingBytesAreRefused) {
  const std::vector<char> good = encode_message(good_result());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    const std::vector<char> part(good.begin(), good.begin() + cut);
    EXPECT_FALSE((decode_message<round_result>(part, small_limits()).ok())) << cut;
  }
  std::vector<char> longer = good;
  longer.push_back(0);
  const auto e = decode_message<round_result>(longer, small_limits());
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().find("1 bytes after the message"), std::string::npos) << e.error();
}

TEST(Wire, LimitsComeFromTheScenario) {
  scenario sc = toy_scenario();
  sc.clients.count = 12;
  sc.clients.per_round = 4;
  sc.server.policy = policy_kind::first_m;
  sc.server.over_select = 1.5;
  const auto w = build_world(sc, toy_data(120, 30));
  ASSERT_TRUE(w.ok()) << w.error();
  const message_limits l = limits_for(**w);
  EXPECT_EQ(l.clients, 12u);
  EXPECT_EQ(l.k, 16u);
  EXPECT_EQ(l.model_size, static_cast<uint64_t>((*w)->net->param_count()));
  EXPECT_EQ(l.max_samples, 8u);
  EXPECT_EQ(l.max_seed_groups, 6u);  // ceil(4 x 1.5) participants, more than buffer = 5
  EXPECT_EQ(l.max_forward_passes, 33u);
  EXPECT_EQ(l.max_sequence<model_update>(), 6u * 16u);
}

TEST(Wire, AnUpdateFromTheFutureIsRefusedByTheUpdatePath) {
  const auto w = build_world(toy_scenario(), toy_data(60, 20));
  ASSERT_TRUE(w.ok()) << w.error();
  const world& wr = **w;
  model_state m = initial_model(wr);
  tbb::task_arena arena(1);
  const auto before = m.replica->params;
  // Version 0 is held: only version 1 may be applied; 2 (or 2^64 - 1) is from the future.
  for (uint64_t v : {uint64_t{2}, uint64_t{1000}, ~uint64_t{0}}) {
    model_update u{v, 0, {42}, std::vector<double>(16, 0.1)};
    ASSERT_FALSE(message_problem(u, limits_for(wr)).has_value());  // well-formed on the wire
    EXPECT_FALSE(apply_update(m, wr, u, arena)) << v;
    EXPECT_EQ(m.replica->version, 0u);
    EXPECT_EQ(m.replica->params, before);
  }
  dense_update d{3, 0, std::vector<double>(m.replica->params.size(), 0.0)};
  EXPECT_FALSE(apply_update(m, wr, d));
  model_update next{1, 0, {42}, std::vector<double>(16, 0.1)};
  EXPECT_TRUE(apply_update(m, wr, next, arena));
  EXPECT_EQ(m.replica->version, 1u);
}

}  // namespace
}  // namespace baffle
