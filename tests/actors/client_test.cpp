// Tests for actors/client.hpp: a client refuses, in every build type, a task for a model version
// its replica does not hold, and its reported finish time is the server's planned arrival less
// the upload (one compute_finish formula on both sides).
#include "actors/client.hpp"

#include <gtest/gtest.h>

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
  // A client actor answers one task and quits: one per task.
  const auto spawn_client = [&] {
    return sys.spawn(client_behavior, uint32_t{2}, *w,
                     std::shared_ptr<const model_replica>(replica), &arena, nullptr,
                     std::shared_ptr<perturbation_cache>{});
  };
  caf::scoped_actor self{sys};
  round_task task;
  task.round = 7;
  task.model_version = 5;  // one ahead of the replica
  task.k = 4;
  task.batch_size = 8;
  std::string message;
  self->request(spawn_client(), caf::infinite, task)
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
  self->request(spawn_client(), caf::infinite, dense)
      .receive([&](const dense_result&) { message = "answered"; },
               [&](const caf::error& e) { message = e.context().get_as<std::string>(0); });
  EXPECT_NE(message.find("model version 3, the replica holds 4"), std::string::npos) << message;
  // A task whose sizes are not the scenario's is refused before anything is allocated.
  replica->version = 5;
  task.k = 4294967295u;
  message.clear();
  self->request(spawn_client(), caf::infinite, task)
      .receive([&](const round_result&) { message = "answered"; },
               [&](const caf::error& e) { message = e.context().get_as<std::string>(0); });
  EXPECT_EQ(message, "client 2: a task with K = 4294967295, the scenario's is " +
                         std::to_string((*w)->sc.baffle.k));
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
