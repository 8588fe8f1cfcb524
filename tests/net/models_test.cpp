// Link and device time models.
#include "net/models.hpp"

#include <gtest/gtest.h>

namespace baffle {
namespace {

TEST(LinkModel, ArrivalIsLatencyPlusSerialization) {
  const link_profile l{sim_time::from_ms(50), 1e6};  // 1 MB/s
  EXPECT_EQ(transfer_time(l, 0).ns, 50'000'000);
  EXPECT_EQ(transfer_time(l, 1000).ns, 50'000'000 + 1'000'000);
}

TEST(LinkModel, UnlimitedBandwidthChargesOnlyLatency) {
  const link_profile l{sim_time::from_ms(7), 0.0};
  EXPECT_EQ(transfer_time(l, 123456789), sim_time::from_ms(7));
}

TEST(DeviceModel, ComputeTimeIsFlopsOverSpeed) {
  const device_profile d{10.0};  // 10 GFLOP/s = 10 flop/ns
  EXPECT_EQ(compute_time(d, 1e9).ns, 100'000'000);
  EXPECT_EQ(compute_time(d, 15).ns, 2);  // rounded up to whole nanoseconds
}

TEST(SimTime, ConvertsUnitsExactly) {
  EXPECT_EQ(sim_time::from_ms(1.5).ns, 1'500'000);
  EXPECT_EQ(sim_time::from_seconds(2).ns, 2'000'000'000);
  EXPECT_DOUBLE_EQ(sim_time::from_ns(250'000'000).seconds(), 0.25);
  EXPECT_LT(sim_time::from_ns(1), sim_time::from_ns(2));
}

}  // namespace
}  // namespace baffle
