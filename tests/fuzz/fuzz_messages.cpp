// Fuzz target: decoding and checking of every message a process accepts from another. The first
// byte chooses the way in. 0-9 and 11: one message type of actors/protocol.hpp through the bounded
// decoder (actors/wire.hpp), the rest being its CAF binary encoding; decoding may fail but must
// never crash, and a message it accepts must pass message_problem and encode back to bytes it
// accepts again. 10: the way a served run really decodes: CAF's own decoder of a type-erased
// message (what the middleman carries), over every registered type including the join
// handshake's, then message_problem on any protocol message that comes out. Neither may allocate
// more than the input or the scenario's limits allow (tools/fuzz runs it with a malloc limit).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <stdexcept>
#include <string_view>

#include "actors/join.hpp"
#include "actors/wire.hpp"
#include "actors/world.hpp"
#include "tests/actors/toy_world.hpp"
#include "tests/fuzz/seeds.hpp"

namespace baffle {
namespace {

message_limits limits;

template <class T>
void check(std::span<const char> bytes) {
  const auto decoded = decode_message<T>(bytes, limits);
  if (!decoded.ok()) {
    if (decoded.error().empty()) std::abort();  // a refusal must say why
    return;
  }
  if (message_problem(*decoded, limits).has_value()) std::abort();
  const std::vector<char> again = encode_message(*decoded);
  const auto redecoded = decode_message<T>(again, limits);
  if (!redecoded.ok() || encode_message(*redecoded) != again) std::abort();
}

/// An actor system with every message type registered, for CAF's decoder of type-erased messages.
caf::actor_system& system() {
  static caf::actor_system_config cfg;
  static caf::actor_system* sys = [] {
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", 1);
    return new caf::actor_system(cfg);  // lives as long as the process
  }();
  return *sys;
}

/// A protocol message CAF decoded: message_problem must take it whatever it holds.
template <class... T>
void check_elements(const caf::message& m) {
  const auto one = [&](auto tag) {
    using type = typename decltype(tag)::type;
    if (m.match_elements<type>()) static_cast<void>(message_problem(m.get_as<type>(0), limits));
  };
  (one(std::type_identity<T>{}), ...);
}

void check_middleman(std::span<const char> bytes) {
  caf::binary_deserializer source{system(), bytes.data(), bytes.size()};
  caf::message m;
  try {
    if (source(m)) return;
  } catch (const std::runtime_error& e) {
    // Open in CAF 0.17.6 (ReceivePath.CafsDecoderThrowsOnAConfigValueOfUnknownKind): its variant
    // loader throws on an unknown index. Anything else that throws is a finding.
    if (std::string_view(e.what()) == "invalid type found") return;
    throw;
  }
  check_elements<round_task, round_result, backprop_task, dense_result, model_update, dense_update,
                 node_round_task, node_backprop_task, model_snapshot, run_outcome, node_layout>(m);
}

using checker = void (*)(std::span<const char>);
constexpr checker checkers[] = {
    check<round_task>,     check<round_result>, check<backprop_task>,   check<dense_result>,
    check<model_update>,   check<dense_update>, check<node_round_task>, check<node_backprop_task>,
    check<model_snapshot>, check<run_outcome>,  check_middleman,        check<node_layout>,
};
constexpr size_t type_count = sizeof(checkers) / sizeof(checkers[0]);
constexpr uint8_t middleman = 10;
static_assert(checkers[middleman] == &check_middleman);

template <class T>
void seed(uint8_t type, const std::string& name, const T& msg) {
  std::string bytes(1, static_cast<char>(type));
  const std::vector<char> body = encode_message(msg);
  bytes.append(body.begin(), body.end());
  fuzz::write_seed(name, bytes);
}

/// A seed for CAF's decoder of type-erased messages: the bytes the middleman carries.
template <class T>
void middleman_seed(const std::string& name, const T& msg) {
  std::vector<char> body;
  caf::binary_serializer sink{system(), body};
  caf::message m = caf::make_message(msg);
  if (sink(m)) std::abort();
  std::string bytes(1, static_cast<char>(middleman));
  bytes.append(body.begin(), body.end());
  fuzz::write_seed("middleman-" + name, bytes);
}

void write_seeds() {
  const uint32_t k = limits.k;
  const size_t n = limits.model_size;
  round_task t{3, 2, 99, k, 1e-3f, fd_scheme::forward, seed_mode::shared, 8, sim_time{1000}};
  backprop_task b{2, 1, baseline::fedavg, 8, 1, 0.05f, sim_time{2000}};
  seed(0, "round_task", t);
  seed(1, "round_result",
       round_result{3, 1, std::vector<float>(k, 0.5f), 1.2f, 8, sim_time{5000}, k + 1});
  seed(2, "backprop_task", b);
  seed(3, "dense_result",
       dense_result{2, 3, std::vector<float>(n, -0.25f), 0.9f, 8, sim_time{7000}, 1});
  seed(4, "model_update", model_update{3, 2, {7, 8}, std::vector<double>(2 * k, 0.125)});
  seed(5, "dense_update", dense_update{3, 2, std::vector<double>(n, 0.01)});
  seed(6, "node_round_task", node_round_task{2, t});
  seed(7, "node_backprop_task", node_backprop_task{2, b});
  seed(8, "model_snapshot",
       model_snapshot{4, std::vector<float>(n, 0.1f), std::vector<float>(n, 0.f),
                      std::vector<float>(n, 0.f), 4, std::vector<float>(n, 0.1f)});
  run_outcome o;
  o.rounds = 3;
  o.model_digest = "00112233aabbccdd";
  o.error = "client 2: answered round 1 instead of 3";
  seed(9, "run_outcome", o);
  seed(11, "node_layout", node_layout{{2, 1, 0}});
  middleman_seed("node_layout", node_layout{{1, 1}});
  middleman_seed("round_result",
                 round_result{3, 1, std::vector<float>(k, 0.5f), 1.2f, 8, sim_time{5000}, k + 1});
  middleman_seed("model_update", model_update{3, 2, {7, 8}, std::vector<double>(2 * k, 0.125)});
  middleman_seed("node_round_task", node_round_task{2, t});
  middleman_seed("model_snapshot", model_snapshot{4, std::vector<float>(n, 0.1f), {}, {}, 4, {}});
  middleman_seed("run_outcome", o);
  middleman_seed("join_hello", join_hello{8});
  middleman_seed("join_challenge", join_challenge{"0123456789abcdef"});
  middleman_seed("join_request", join_request{"0123456789abcdef", std::string(64, 'a'), 8, "host"});
  middleman_seed("join_offer", join_offer{1, 3, "name = \"x\"\n", "00112233aabbccdd"});
  middleman_seed("join_ready", join_ready{1, {}, "00112233aabbccdd"});
}

}  // namespace
}  // namespace baffle

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace baffle;
  // The limits of a small scenario's world: 4 clients, K = 16, a tiny MLP.
  const auto w = build_world(toy_scenario(), toy_data(40, 10));
  if (!w.ok()) std::abort();
  limits = limits_for(**w);
  if (fuzz::seed_folder() != nullptr) {
    write_seeds();
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const char> body(reinterpret_cast<const char*>(data) + 1, size - 1);
  baffle::checkers[data[0] % baffle::type_count](body);
  return 0;
}
