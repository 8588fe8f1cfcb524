// Signal handling: a first SIGINT or SIGTERM sets the stop flag and calls the callback, a second
// one exits at once, and destruction hands the signals back. Every wait is bounded by a guard
// timeout so a broken build fails instead of hanging; the guard is never a timing assertion.
#include "net/stop_signal.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>

namespace baffle {
namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds guard = 10s;

// Blocks until the process is ended by the io thread, or the guard passes (then the death test
// fails because the statement returned).
void wait_to_be_ended() {
  std::promise<void> never;
  never.get_future().wait_for(guard);
}

TEST(StopSignals, NoStopUntilASignalArrives) {
  stop_signals s;
  EXPECT_FALSE(s.stop_requested());
}

TEST(StopSignals, RequestStopSetsTheFlagWithoutTheCallback) {
  int calls = 0;
  stop_signals s([&](int) { ++calls; });
  s.request_stop();
  EXPECT_TRUE(s.stop_requested());
  EXPECT_TRUE(s.wait_for_stop(guard));
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(s.signal_number(), 0);
}

TEST(StopSignals, FirstSigintSetsTheFlagAndCallsBack) {
  std::promise<int> called;
  stop_signals s([&](int signo) { called.set_value(signo); });
  std::raise(SIGINT);
  ASSERT_TRUE(s.wait_for_stop(guard)) << "no stop within the guard timeout";
  auto signo = called.get_future();
  ASSERT_EQ(signo.wait_for(guard), std::future_status::ready);
  EXPECT_EQ(signo.get(), SIGINT);
  EXPECT_EQ(s.signal_number(), SIGINT);
}

TEST(StopSignals, AnnounceWritesItsMessageToStderr) {
  testing::internal::CaptureStderr();
  stop_signals::announce("stopping soon\n")(SIGINT);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "stopping soon\n");
}

TEST(StopSignals, FirstSigtermSetsTheFlagAndCallsBack) {
  std::promise<int> called;
  stop_signals s([&](int signo) { called.set_value(signo); });
  std::raise(SIGTERM);
  ASSERT_TRUE(s.wait_for_stop(guard)) << "no stop within the guard timeout";
  auto signo = called.get_future();
  ASSERT_EQ(signo.wait_for(guard), std::future_status::ready);
  EXPECT_EQ(signo.get(), SIGTERM);
  EXPECT_EQ(s.signal_number(), SIGTERM);
}

TEST(StopSignals, RequestStopDoesNotCountAsTheFirstSignal) {
  std::promise<int> called;
  stop_signals s([&](int signo) { called.set_value(signo); });
  s.request_stop();
  std::raise(SIGINT);  // were request_stop a signal, this would end the process
  auto signo = called.get_future();
  ASSERT_EQ(signo.wait_for(guard), std::future_status::ready);
  EXPECT_EQ(signo.get(), SIGINT);
}

TEST(StopSignals, ANewInstanceWorksAfterTheLastWasDestroyed) {
  for (int i = 0; i < 3; ++i) {
    stop_signals s;
    EXPECT_FALSE(s.stop_requested());
    std::raise(i % 2 == 0 ? SIGINT : SIGTERM);
    EXPECT_TRUE(s.wait_for_stop(guard)) << "instance " << i;
  }
}

// Death tests fork: run them in a re-executed child so no helper thread is copied mid-work.
class StopSignalsDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(StopSignalsDeathTest, SecondSigintExitsAtOnceWith130) {
  EXPECT_EXIT(
      {
        stop_signals s;
        std::raise(SIGINT);
        if (!s.wait_for_stop(guard)) std::_Exit(1);
        std::raise(SIGINT);
        wait_to_be_ended();
      },
      ::testing::ExitedWithCode(130), "second signal, stopping at once");
}

TEST_F(StopSignalsDeathTest, SecondSigtermExitsAtOnceWith143) {
  EXPECT_EXIT(
      {
        stop_signals s;
        std::raise(SIGTERM);
        if (!s.wait_for_stop(guard)) std::_Exit(1);
        std::raise(SIGTERM);
        wait_to_be_ended();
      },
      ::testing::ExitedWithCode(143), "second signal, stopping at once");
}

TEST_F(StopSignalsDeathTest, SigintAfterSigtermCountsAsTheSecondSignal) {
  EXPECT_EXIT(
      {
        stop_signals s;
        std::raise(SIGTERM);
        if (!s.wait_for_stop(guard)) std::_Exit(1);
        std::raise(SIGINT);
        wait_to_be_ended();
      },
      ::testing::ExitedWithCode(130), "second signal");
}

TEST_F(StopSignalsDeathTest, DestructionRestoresDefaultHandling) {
  EXPECT_EXIT(
      {
        { stop_signals s; }
        std::raise(SIGINT);  // the default action ends the process here
        std::_Exit(1);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

}  // namespace
}  // namespace baffle
