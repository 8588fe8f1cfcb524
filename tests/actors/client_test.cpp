// Tests for actors/client.hpp: a client refuses, in every build type, a task for a model version
// its replica does not hold, and its reported finish time is the server's planned arrival less
// the upload (one compute_finish formula on both sides).
#include "actors/client.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "actors/round_plan.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

TEST(Client, ATaskForAnotherModelVersionIsRefusedWithAClearError) {
  auto w = build_world(toy_scenario(), toy_data(120, 30));
  ASSERT_TRUE(w.ok());
  caf::actor_system_config cfg;
  configure_actor_system(cfg, 1);
  tbb::task_arena arena(1);
  caf::actor_system sys{cfg};
  auto replica = std::make_shared<model_replica>();
  replica->params = xt::zeros<float>({static_cast<size_t>((*w)->net->param_count())});
  replica->version = 4;
  // One client actor answers every task below, each for the client it names (as a node reuses
  // its idle client actors); a refusal leaves it able to answer the next task.
  const client_actor client =
      sys.spawn(client_behavior, *w, std::shared_ptr<const model_replica>(replica), &arena, nullptr,
                std::shared_ptr<perturbation_cache>{});
  caf::scoped_actor self{sys};
  round_task task;
  task.round = 7;
  task.model_version = 5;  // one ahead of the replica
  task.k = 4;
  task.batch_size = 8;
  std::string message;
  self->request(client, caf::infinite, node_round_task{2, task})
      .receive([&](const round_result&) { message = "answered"; },
               [&](const caf::error& e) {
                 ASSERT_EQ(e.context().size(), 1u);
                 message = e.context().get_as<std::string>(0);
               });
  EXPECT_EQ(message, "client 2: the task of round 7 is for model version 5, the replica holds 4");
  backprop_task dense;
  dense.round = 7;
  dense.model_version = 3;
  dense.batch_size = 8;
  message.clear();
  self->request(client, caf::infinite, node_backprop_task{2, dense})
      .receive([&](const dense_result&) { message = "answered"; },
               [&](const caf::error& e) { message = e.context().get_as<std::string>(0); });
  EXPECT_NE(message.find("model version 3, the replica holds 4"), std::string::npos) << message;
  // A task whose sizes are not the scenario's is refused before anything is allocated.
  replica->version = 5;
  task.k = 4294967295u;
  message.clear();
  self->request(client, caf::infinite, node_round_task{2, task})
      .receive([&](const round_result&) { message = "answered"; },
               [&](const caf::error& e) { message = e.context().get_as<std::string>(0); });
  EXPECT_EQ(message, "client 2: a task with K = 4294967295, the scenario's is " +
                         std::to_string((*w)->sc.baffle.k));
  // After those refusals the same actor answers sound tasks, each as the client it names would.
  const scenario& sc = (*w)->sc;
  task.k = static_cast<uint32_t>(sc.baffle.k);
  task.batch_size = static_cast<uint32_t>(sc.train.batch_size);
  task.sigma = static_cast<float>(sc.baffle.sigma);
  task.scheme = (*w)->scheme;
  task.seeds = (*w)->seeds;
  for (const uint32_t id : {1u, 3u, 1u}) {
    std::optional<round_result> answer;
    self->request(client, caf::infinite, node_round_task{id, task})
        .receive([&](const round_result& r) { answer = r; },
                 [&](const caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    ASSERT_TRUE(answer.has_value());
    const client_state alone{id, *w, replica, &arena};
    const round_result expected = compute_round(alone, task);
    EXPECT_EQ(answer->client, id);
    EXPECT_EQ(answer->scalars, expected.scalars) << "client " << id;
    EXPECT_EQ(answer->finish_time, expected.finish_time) << "client " << id;
  }
  // A client id beyond the world's is refused (the shard lookup would be out of range).
  message.clear();
  self->request(client, caf::infinite, node_round_task{uint32_t(sc.clients.count), task})
      .receive([&](const round_result&) { message = "answered"; },
               [&](const caf::error& e) { message = e.context().get_as<std::string>(0); });
  EXPECT_EQ(message, "client " + std::to_string(sc.clients.count) + " does not exist");
}

TEST(Client, FinishTimeIsThePlannedArrivalLessTheUpload) {
  scenario sc = toy_scenario();
  sc.clients.compute.spread = distribution::uniform(0.5, 1.5);
  sc.clients.compute.jitter = 0.2;
  sc.clients.link.up_bytes_per_sec = 2000;
  auto w = build_world(sc, toy_data(120, 30));
  ASSERT_TRUE(w.ok());
  tbb::task_arena arena(1);
  auto replica = std::make_shared<model_replica>();
  replica->params = xt::zeros<float>({static_cast<size_t>((*w)->net->param_count())});
  round_costs cost;
  cost.batch_size = sc.train.batch_size;
  cost.forward_passes = forward_passes_per_round(sc.baffle.k, fd_scheme::forward);
  round_result sized;
  sized.scalars.resize(static_cast<size_t>(sc.baffle.k));
  cost.result_bytes = wire_size(sized);
  for (uint32_t c = 0; c < 4; ++c) {
    for (uint64_t round : {1u, 5u}) {
      const sim_time start = sim_time::from_ms(100 * round + c);
      round_task task;
      task.round = round;
      task.k = static_cast<uint32_t>(sc.baffle.k);
      task.sigma = 1e-3f;
      task.batch_size = static_cast<uint32_t>(sc.train.batch_size);
      task.start_time = start;
      const client_state cs{c, *w, replica, &arena};
      const round_result r = compute_round(cs, task);
      // planned_arrival starts from the dispatch; with nothing to download but the task and the
      // weights, the start is planned_start of that dispatch. Compare from the same start.
      const sim_time planned = compute_finish(**w, c, round, start, client_flops(**w, c, cost)) +
                               transfer_time((*w)->uplink[c], cost.result_bytes);
      EXPECT_EQ(r.finish_time + transfer_time((*w)->uplink[c], wire_size(r)), planned)
          << "client " << c << " round " << round;
      EXPECT_EQ(wire_size(r), cost.result_bytes);
    }
  }
}

}  // namespace
}  // namespace baffle
