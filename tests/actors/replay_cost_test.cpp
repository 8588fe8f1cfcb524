// Tests of actors/server_model.cpp: what a replaying device downloads (replaying steps the
// optimizer, so a device needs the optimizer's state; one that got plain weights takes the weights
// and the state once, and replays from then on; bytes by hand) and the checks on every result
// (non-finite values, sizes).
#include <gtest/gtest.h>

#include "actors/algorithm.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

using server_detail::download_for;
using server_detail::note_download;

std::shared_ptr<const world> toy_world(optimizer_kind kind, double momentum,
                                       download_mode download) {
  scenario sc = toy_scenario();
  sc.train.optimizer = kind;
  sc.train.momentum = momentum;
  sc.baffle.download = download;
  auto w = build_world(sc, toy_data(120, 30));
  EXPECT_TRUE(w.ok()) << w.error();
  return *w;
}

TEST(ReplayCost, TheOptimizerStateADeviceNeedsByHand) {
  // The toy MLP 16-6-3 has 16 x 6 + 6 + 6 x 3 + 3 = 123 parameters; 123 floats serialize as a
  // one-byte length and 492 bytes: 493.
  const auto adam = toy_world(optimizer_kind::adam, 0.0, download_mode::replay);
  ASSERT_EQ(adam->net->param_count(), 123);
  EXPECT_EQ(adam->model_bytes, 493u);
  EXPECT_EQ(optimizer_state_bytes(*adam), 2 * 493u + 8);  // m, v and the step count
  EXPECT_EQ(optimizer_state_bytes(*toy_world(optimizer_kind::sgd, 0.9, download_mode::replay)),
            493u);  // the momentum vector
  EXPECT_EQ(optimizer_state_bytes(*toy_world(optimizer_kind::sgd, 0.0, download_mode::replay)),
            0u);  // plain SGD keeps nothing
  EXPECT_EQ(server_detail::make_baffle_algorithm()->costs(*adam).state_bytes, 994u);
}

/// A server state at model version 3 after updates of 100, 150 and 200 bytes.
server_state at_version_3(std::shared_ptr<const world> w) {
  server_state st;
  st.w = w;
  st.costs = server_detail::make_baffle_algorithm()->costs(*w);
  st.model = initial_model(*w);
  st.model.replica->version = 3;
  st.update_bytes_prefix = {0, 100, 250, 450};
  st.update_flops_prefix = {0, 1e3, 2e3, 3e3};
  st.device_version = {0, 1, 3, 0};
  st.device_state = {1, 1, 1, 1};
  return st;
}

TEST(ReplayCost, AdamDevicesReplayWithTheirStateAndTakeTheStateOnceAfterPlainWeights) {
  server_state st = at_version_3(toy_world(optimizer_kind::adam, 0.0, download_mode::replay));
  // Client 0 holds version 0 and its (initial) state: it replays updates 1-3.
  model_download d = download_for(st, 0);
  EXPECT_TRUE(d.replay);
  EXPECT_FALSE(d.with_state);
  EXPECT_EQ(d.bytes, 450u);
  EXPECT_EQ(d.flops, 3e3);
  note_download(st, 0, d);
  EXPECT_EQ(st.device_version[0], 3u);
  EXPECT_EQ(st.device_state[0], 1);
  // Client 1 holds version 1 but no optimizer state (it got plain weights): it cannot replay, so
  // it takes the weights (493) and the state (994), with nothing to replay on the device.
  st.device_state[1] = 0;
  d = download_for(st, 1);
  EXPECT_TRUE(d.replay);
  EXPECT_TRUE(d.with_state);
  EXPECT_EQ(d.bytes, 493u + 994u);
  EXPECT_EQ(d.flops, 0.0);
  note_download(st, 1, d);
  EXPECT_EQ(st.device_state[1], 1);
  // One more update (120 bytes): now it replays just that one.
  st.model.replica->version = 4;
  st.update_bytes_prefix.push_back(570);
  st.update_flops_prefix.push_back(4e3);
  d = download_for(st, 1);
  EXPECT_FALSE(d.with_state);
  EXPECT_EQ(d.bytes, 120u);
  EXPECT_EQ(d.flops, 1e3);
  // A device that is up to date downloads nothing but its task, state or not.
  st.device_state[2] = 0;
  st.device_version[2] = 4;
  EXPECT_EQ(download_for(st, 2).bytes, 0u);
  // Plain weights leave a device without the state.
  note_download(st, 3, model_download{});
  EXPECT_EQ(st.device_state[3], 0);
}

TEST(ReplayCost, PlainSgdNeedsNoStateAndAutoPrefersWeightsOverWeightsPlusState) {
  server_state sgd = at_version_3(toy_world(optimizer_kind::sgd, 0.0, download_mode::replay));
  sgd.device_state[1] = 0;
  const model_download d = download_for(sgd, 1);
  EXPECT_FALSE(d.with_state);
  EXPECT_EQ(d.bytes, 350u);  // updates 2 and 3
  // Under "auto" a stateless Adam device compares weights (493) with weights + state: weights.
  server_state adam = at_version_3(toy_world(optimizer_kind::adam, 0.0, download_mode::automatic));
  adam.device_state[1] = 0;
  EXPECT_FALSE(download_for(adam, 1).replay);
}

TEST(ReplayCost, SeedPoolChargesTheBoundedCatchUpWhenItIsSooner) {
  scenario sc = toy_scenario();
  sc.train.optimizer = optimizer_kind::sgd;
  sc.train.weight_decay = 0.0;
  sc.baffle.seed_pool = 2;
  sc.baffle.download = download_mode::replay;
  sc.clients.link.down_bytes_per_sec = 1000;  // 1 ms a byte: bytes matter
  auto built = build_world(sc, toy_data(120, 30));
  ASSERT_TRUE(built.ok()) << built.error();
  server_state st = at_version_3(*built);
  st.update_bytes_prefix = {0, 2000, 2100, 2200};
  st.device_version = {0, 2, 3, 0};
  // The catch-up: one message shaped as an update over both pool seeds (2 x K coefficients), and
  // regenerating those 2 x K directions of 123 parameters.
  model_update all;
  all.seeds = st.model.pool.seeds;
  all.coefficients.resize(2 * static_cast<size_t>(sc.baffle.k));
  const double catch_up_flops = 2.0 * sc.baffle.k * 123 * replay_flops_per_element;
  // Client 0 missed 2,200 bytes of updates (2.2 s): the catch-up (about 0.3 KB, 0.46 s of
  // regeneration at 1 MFLOP/s) is sooner, and its cost does not grow with what was missed.
  model_download d = download_for(st, 0);
  EXPECT_TRUE(d.replay);
  EXPECT_EQ(d.bytes, wire_size(all));
  EXPECT_DOUBLE_EQ(d.flops, catch_up_flops);
  // Client 1 missed one update of 100 bytes: replaying it is sooner.
  d = download_for(st, 1);
  EXPECT_EQ(d.bytes, 100u);
  EXPECT_DOUBLE_EQ(d.flops, 1e3);
  // Client 2 is up to date.
  EXPECT_EQ(download_for(st, 2).bytes, 0u);
  // Without a pool, client 0 replays everything it missed.
  sc.baffle.seed_pool = 0;
  auto plain = build_world(sc, toy_data(120, 30));
  ASSERT_TRUE(plain.ok());
  server_state st0 = at_version_3(*plain);
  st0.update_bytes_prefix = st.update_bytes_prefix;
  st0.device_version = st.device_version;
  EXPECT_EQ(download_for(st0, 0).bytes, 2200u);
}

}  // namespace
}  // namespace baffle

namespace baffle {
namespace {

TEST(ResultChecks, ANonFiniteScalarOrAnotherSizeIsRefusedWithTheClientNamed) {
  server_state st = at_version_3(toy_world(optimizer_kind::adam, 0.0, download_mode::replay));
  st.limits = limits_for(*st.w);
  round_result r;
  r.round = 7;
  r.client = 2;
  r.samples = 8;
  r.scalars.assign(static_cast<size_t>(st.w->sc.baffle.k), 0.5f);
  r.finish_time = sim_time::from_ms(100);
  const sim_time arrival = r.finish_time + transfer_time(st.w->uplink[2], st.costs.result_bytes);
  EXPECT_FALSE(server_detail::result_problem(st, any_result{r}, 2, 7, arrival).has_value());
  r.scalars[3] = std::numeric_limits<float>::quiet_NaN();
  const auto nan = server_detail::result_problem(st, any_result{r}, 2, 7, arrival);
  ASSERT_TRUE(nan.has_value());
  EXPECT_EQ(nan->rfind("client 2: ", 0), 0u) << *nan;
  r.scalars.assign(4, 0.5f);
  const auto size = server_detail::result_problem(st, any_result{r}, 2, 7, arrival);
  ASSERT_TRUE(size.has_value());
  EXPECT_NE(size->find("scalars for K = 16"), std::string::npos) << *size;
}

}  // namespace
}  // namespace baffle
