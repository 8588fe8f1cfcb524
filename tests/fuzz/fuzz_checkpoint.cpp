// Fuzz target: the checkpoint reader, on the bytes of a checkpoint.bin file (sealed: magic,
// version, length, CRC-32, then the run folder's lengths and the server's state). Whatever the
// bytes, reading must end in a state the resumed run can use or in an error, never a crash; a
// state it accepts must save and load again. The world is a small async BAFFLE fleet with replay
// downloads, so the seeds exercise every section (in-flight dispatches, their results, events).
// First byte even: the rest is the file as it is (the seal's checks); odd: the rest is the payload,
// sealed here, so mutations get past the CRC into the state's own parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "actors/checkpoint.hpp"
#include "actors/run.hpp"
#include "actors/server.hpp"
#include "net/atomic_file.hpp"
#include "tests/actors/server_fixture.hpp"
#include "tests/actors/toy_world.hpp"
#include "tests/fuzz/seeds.hpp"

namespace baffle {
namespace {

std::shared_ptr<const world> fleet;

scenario fleet_scenario() {
  scenario sc = toy_scenario();
  sc.train.rounds = 8;
  sc.train.eval_every = 2;
  sc.train.ema_decay = 0.5;
  sc.clients.count = 6;
  sc.clients.per_round = 3;
  sc.clients.dropout = 0.2;
  sc.clients.link.latency = distribution::uniform(0.02, 0.12);
  sc.server.policy = policy_kind::async;
  sc.server.concurrency = 4;
  sc.server.buffer = 2;
  sc.server.max_staleness = 3;
  sc.baffle.download = download_mode::replay;
  sc.run.checkpoint_every = 2;
  return sc;
}

struct checkpoint_sink final : metrics_sink {
  int written = 0;
  void on_round(const round_record&) override {}
  void on_clients(const std::vector<client_record>&) override {}
  void on_events(const std::vector<event_record>&) override {}
  void on_checkpoint(int64_t round, std::string state) override {
    checkpoint_file c;
    c.fingerprint = "0123456789abcdef";
    c.rounds_csv_bytes = 100 * static_cast<uint64_t>(round);
    c.events = true;
    c.events_bytes = 300 * static_cast<uint64_t>(round);
    c.wall_seconds = 0.5 * static_cast<double>(round);
    c.round = round;
    c.state = std::move(state);
    const std::string file = write_checkpoint_file(c);
    fuzz::write_seed("file_after_update_" + std::to_string(round), std::string(1, '\0') + file);
    fuzz::write_seed("payload_after_update_" + std::to_string(round),
                     std::string(1, '\1') + *unseal(file));
    ++written;
  }
};

}  // namespace
}  // namespace baffle

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace baffle;
  auto w = build_world(fleet_scenario(), toy_data(120, 30));
  if (!w.ok()) std::abort();
  fleet = *w;
  if (fuzz::seed_folder() != nullptr) {
    checkpoint_sink sink;
    const run_outcome out = run_simulation(fleet, run_options{1}, &sink);
    if (!out.error.empty() || sink.written == 0) std::abort();
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace baffle;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string sealed = (data[0] & 1) != 0 ? seal(rest) : std::string(rest);
  const auto file = read_checkpoint_file(sealed);
  if (!file.ok()) return 0;
  server_state st = fresh_server_state(fleet);
  const auto loaded = load_server_state(file->state, st);
  if (!loaded.ok()) return 0;
  // What the resumed run reads first: its events, and the state saved again at the next checkpoint.
  for (const event_record& e : st.interval_events) static_cast<void>(format_event(e));
  server_state again = fresh_server_state(fleet);
  if (!load_server_state(save_server_state(st), again).ok()) std::abort();
  return 0;
}
