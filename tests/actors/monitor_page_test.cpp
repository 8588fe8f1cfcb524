// The dashboard page rendered by headless Chromium (Debian's chromium, installed by tools/setup)
// while a run is held at round 2: the rendered DOM shows the rounds that ran and charts drawn
// from them. Skipped, with the reason, where Chromium is missing or cannot start.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "actors/monitor.hpp"
#include "tests/actors/monitor_fixture.hpp"
#include "tests/actors/toy_world.hpp"

namespace baffle {
namespace {

/// Runs a shell command and returns its exit status and output (stdout and stderr).
std::pair<int, std::string> run_command(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string out;
  char buf[8192];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(MonitorPage, ChromiumRendersTheRoundsThatRan) {
  if (run_command("command -v chromium").first != 0)
    GTEST_SKIP() << "chromium is not installed (tools/setup installs it); page not rendered";
  scenario sc = toy_scenario();
  sc.train.rounds = 4;
  auto w = build_world(sc, toy_data(120, 30));
  ASSERT_TRUE(w.ok());
  auto mon = monitor::start("127.0.0.1", 0);
  ASSERT_TRUE(mon.ok()) << mon.error();
  (*mon)->begin_run(run_info_of(sc, 1));
  test::held_run run(**mon, *w, run_options{1});
  run.gate.release(1);
  run.gate.wait_reached(2);
  (*mon)->sync();

  const std::filesystem::path profile =
      std::filesystem::path(testing::TempDir()) / ("chromium_" + std::to_string(getpid()));
  // The virtual time budget lets the page's fetches and timers run before the DOM is dumped.
  const auto [code, dom] = run_command(
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run "
      "--user-data-dir=" +
      profile.string() + " --window-size=1200,900 --virtual-time-budget=5000 --dump-dom " +
      (*mon)->url());
  std::filesystem::remove_all(profile);
  const run_outcome outcome = run.finish();
  ASSERT_TRUE(outcome.error.empty()) << outcome.error;
  if (dom.find("<html") == std::string::npos)
    GTEST_SKIP() << "chromium could not start here (exit " << code << "):\n" << dom;

  EXPECT_NE(dom.find("<span id=\"rounds-shown\">2</span>"), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-state=\"running\""), std::string::npos) << dom;
  // Every round evaluates in the toy scenario: the accuracy chart has values at both rounds.
  const std::regex acc("id=\"chart-acc\"[^>]*data-xs=\"(\\d+)\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, acc)) << dom;
  EXPECT_EQ(m[1], "2");
  const std::regex part("id=\"chart-part\"[^>]*data-points=\"(\\d+)\"[^>]*data-xs=\"(\\d+)\"");
  ASSERT_TRUE(std::regex_search(dom, m, part)) << dom;
  EXPECT_EQ(m[1], "6");  // participants, dropped and late...
  EXPECT_EQ(m[2], "2");  // ...at rounds 1 and 2
}

}  // namespace
}  // namespace baffle
