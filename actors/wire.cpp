// Bounded decoding and checking of messages: a CAF deserializer that refuses a sequence longer than
// the message's limit (or than the bytes left) before the container grows, then per-message checks
// of sizes, ids, enums and counts against the scenario's limits.
#include "actors/wire.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "actors/world.hpp"

namespace baffle {

namespace {

/// CAF's binary format read through caf::binary_deserializer, with every sequence length (vector
/// or string) checked before anything is allocated for it. CAF's own decoder grows a vector one
/// element at a time and sizes a string from its length prefix, so without this a peer could make
/// a receiver allocate as much as it claims.
class bounded_deserializer final : public caf::deserializer {
 public:
  bounded_deserializer(std::span<const char> bytes, uint64_t max_sequence, uint64_t max_string)
      : inner_(static_cast<caf::execution_unit*>(nullptr), bytes.data(), bytes.size()),
        max_sequence_(max_sequence),
        max_string_(max_string) {}

  size_t remaining() const { return inner_.remaining(); }
  const std::string& why() const { return why_; }

  caf::error begin_object(uint16_t& nr, std::string& name) override {
    // Only type-erased values (caf::message) carry a type header; our messages never do.
    static_cast<void>(nr);
    static_cast<void>(name);
    return refuse("a type header where a plain message was expected");
  }
  caf::error end_object() override { return caf::none; }

  caf::error begin_sequence(size_t& n) override {
    if (auto err = inner_.begin_sequence(n)) return refuse("a truncated sequence length");
    // Every element takes at least one byte, so a longer sequence cannot be in the message.
    if (n > max_sequence_ || n > inner_.remaining()) {
      const auto claimed = n;
      n = 0;
      return refuse(fmt::format("a sequence of {} elements (at most {} allowed, {} bytes left)",
                                claimed, max_sequence_, inner_.remaining()));
    }
    return caf::none;
  }
  caf::error end_sequence() override { return inner_.end_sequence(); }

  caf::error apply_raw(size_t num_bytes, void* data) override {
    if (num_bytes > inner_.remaining()) return refuse("a truncated message");
    return inner_.apply_raw(num_bytes, data);
  }

 protected:
  caf::error apply_impl(int8_t& x) override { return read(x); }
  caf::error apply_impl(uint8_t& x) override { return read(x); }
  caf::error apply_impl(int16_t& x) override { return read(x); }
  caf::error apply_impl(uint16_t& x) override { return read(x); }
  caf::error apply_impl(int32_t& x) override { return read(x); }
  caf::error apply_impl(uint32_t& x) override { return read(x); }
  caf::error apply_impl(int64_t& x) override { return read(x); }
  caf::error apply_impl(uint64_t& x) override { return read(x); }
  caf::error apply_impl(float& x) override { return read(x); }
  caf::error apply_impl(double& x) override { return read(x); }
  caf::error apply_impl(long double&) override { return refuse("a long double field"); }
  caf::error apply_impl(std::string& x) override {
    // binary_serializer writes a string as its length and its bytes.
    size_t n = 0;
    if (auto err = inner_.begin_sequence(n)) return refuse("a truncated string length");
    if (n > max_string_ || n > inner_.remaining()) {
      return refuse(fmt::format("a string of {} bytes (at most {} allowed, {} bytes left)", n,
                                max_string_, inner_.remaining()));
    }
    x.resize(n);
    if (n > 0) {
      if (auto err = inner_.apply_raw(n, x.data())) return refuse("a truncated string");
    }
    return inner_.end_sequence();
  }
  caf::error apply_impl(std::u16string&) override { return refuse("a UTF-16 string field"); }
  caf::error apply_impl(std::u32string&) override { return refuse("a UTF-32 string field"); }

 private:
  template <class T>
  caf::error read(T& x) {
    if (inner_.remaining() < sizeof(T)) return refuse("a truncated message");
    if (auto err = inner_.apply(x)) return refuse("an unreadable field");
    return caf::none;
  }
  caf::error refuse(std::string why) {
    if (why_.empty()) why_ = std::move(why);
    return caf::make_error(caf::sec::invalid_argument);
  }

  caf::binary_deserializer inner_;
  uint64_t max_sequence_;
  uint64_t max_string_;
  std::string why_;
};

/// Every message type, for the names in errors and the explicit instantiations at the end.
#define BAFFLE_WIRE_TYPES(X)                                                          \
  X(round_task)                                                                       \
  X(round_result)                                                                     \
  X(backprop_task) X(dense_result) X(model_update) X(dense_update) X(node_round_task) \
      X(node_backprop_task) X(model_snapshot) X(run_outcome) X(node_layout)

template <class T>
constexpr const char* message_name();
#define BAFFLE_WIRE_NAME(T)                 \
  template <>                               \
  constexpr const char* message_name<T>() { \
    return #T;                              \
  }
BAFFLE_WIRE_TYPES(BAFFLE_WIRE_NAME)
#undef BAFFLE_WIRE_NAME

/// Collects the first problem found, so each check reads as one line.
struct checker {
  std::optional<std::string> problem;
  /// The message is formatted only when the check fails: these checks run on every message.
  template <class... Args>
  void require(bool ok, fmt::format_string<Args...> why, Args&&... args) {
    if (!ok && !problem) problem = fmt::format(why, std::forward<Args>(args)...);
  }
  void size(uint64_t have, uint64_t want, const char* what) {
    require(have == want, "{} has {} elements, the scenario's model needs {}", what, have, want);
  }
  void client(uint32_t c, const message_limits& l) {
    require(c < l.clients, "client {} is out of range (the scenario has {} clients)", c, l.clients);
  }
  void time(sim_time t, const char* what) {
    require(t.ns >= 0, "{} is negative ({} ns)", what, t.ns);
  }
  void samples(uint32_t n, const message_limits& l) {
    require(n >= 1 && n <= l.max_samples, "{} samples (1 to {} allowed)", n, l.max_samples);
  }
  /// Non-finite values are refused: CAF 0.17's serializer never returns on an infinite float,
  /// so such a message could not even be passed on, and one would turn the model into NaN.
  template <class Range>
  void all_finite(const Range& values, const char* what) {
    size_t i = 0;
    for (const auto v : values) {
      if (!std::isfinite(v)) {
        require(false, "{}[{}] is not finite", what, i);
        return;
      }
      ++i;
    }
  }
  void finite(double v, const char* what) { require(std::isfinite(v), "{} is not finite", what); }
  void forward_passes(uint32_t n, const message_limits& l) {
    require(n <= l.max_forward_passes, "{} forward passes (at most {})", n, l.max_forward_passes);
  }
  std::optional<std::string> done(const char* name) {
    if (problem) return std::string(name) + ": " + *problem;
    return std::nullopt;
  }
};

template <class E>
bool known(E e) {
  for (const auto& [value, name] : enum_names<E>::table)
    if (value == e) return true;
  return false;
}

bool known(baseline b) {
  return b == baseline::fedsgd || b == baseline::fedavg;
}

bool known(error_kind k) {
  return k == error_kind::bad_input || k == error_kind::io || k == error_kind::failed;
}

void check_task(checker& c, const round_task& m, const message_limits& l) {
  c.require(m.k == l.k, "K = {}, the scenario's is {}", m.k, l.k);
  c.require(std::isfinite(m.sigma) && m.sigma > 0.f, "sigma = {}", m.sigma);
  c.require(known(m.scheme), "an unknown finite-difference scheme");
  c.require(known(m.seeds), "an unknown seed mode");
  c.samples(m.batch_size, l);
  c.time(m.start_time, "the start time");
}

void check_task(checker& c, const backprop_task& m, const message_limits& l) {
  c.require(known(m.kind), "an unknown baseline");
  c.samples(m.batch_size, l);
  c.require(m.local_steps <= l.max_local_steps, "{} local steps (at most {})", m.local_steps,
            l.max_local_steps);
  c.require(std::isfinite(m.local_lr), "local learning rate {}", m.local_lr);
  c.time(m.start_time, "the start time");
}

}  // namespace

template <class T>
uint64_t message_limits::max_sequence() const {
  if constexpr (std::is_same_v<T, round_result>)
    return k;
  else if constexpr (std::is_same_v<T, model_update>)
    return uint64_t{max_seed_groups} * k;
  else if constexpr (std::is_same_v<T, dense_result> || std::is_same_v<T, dense_update>)
    return model_size;
  else if constexpr (std::is_same_v<T, model_snapshot>)
    return std::max(model_size, pool_coefficients);
  else if constexpr (std::is_same_v<T, node_layout>)
    return max_nodes;
  else
    return 0;  // tasks and run_outcome hold no sequence (strings have max_string)
}

message_limits limits_for(const world& w) {
  const scenario& sc = w.sc;
  message_limits l;
  l.clients = static_cast<uint32_t>(sc.clients.count);
  l.k = static_cast<uint32_t>(sc.baffle.k);
  l.model_size = static_cast<uint64_t>(w.net->param_count());
  const int steps = std::max(1, baseline_steps(w));
  l.max_local_steps = static_cast<uint32_t>(steps);
  l.max_samples = static_cast<uint32_t>(sc.train.batch_size) * static_cast<uint32_t>(steps);
  // K + 1 (forward) or 2K (central) for BAFFLE, one per minibatch step for the baselines.
  l.max_forward_passes = std::max<uint32_t>(2 * l.k + 1, l.max_local_steps);
  // One seed group per participant at most (first-m over-selects), or per buffered result.
  const double selected = std::ceil(sc.clients.per_round * std::max(1.0, sc.server.over_select));
  l.max_seed_groups =
      static_cast<uint32_t>(std::max({1.0, selected, static_cast<double>(sc.server.buffer)}));
  l.pool_coefficients = static_cast<uint64_t>(std::max(0, sc.baffle.seed_pool)) * l.k;
  return l;
}

std::optional<std::string> message_problem(const round_task& m, const message_limits& l) {
  checker c;
  check_task(c, m, l);
  return c.done("round_task");
}

namespace {
/// A client's result: its id, its payload's size (K scalars or the model's size), its counts.
template <class Result, class Payload>
std::optional<std::string> result_problem(const Result& m, const Payload& payload,
                                          const std::string& payload_problem,
                                          const message_limits& l) {
  checker c;
  c.client(m.client, l);
  c.require(payload_problem.empty(), "{}", payload_problem);
  c.all_finite(payload, "payload");
  c.finite(m.base_loss, "base_loss");
  c.samples(m.samples, l);
  c.time(m.finish_time, "the finish time");
  c.forward_passes(m.forward_passes, l);
  return c.done(message_name<Result>());
}
}  // namespace

std::optional<std::string> message_problem(const round_result& m, const message_limits& l) {
  return result_problem(
      m, m.scalars,
      m.scalars.size() == l.k ? "" : fmt::format("{} scalars for K = {}", m.scalars.size(), l.k),
      l);
}

std::optional<std::string> message_problem(const backprop_task& m, const message_limits& l) {
  checker c;
  check_task(c, m, l);
  return c.done("backprop_task");
}

std::optional<std::string> message_problem(const dense_result& m, const message_limits& l) {
  return result_problem(
      m, m.values,
      m.values.size() == l.model_size
          ? ""
          : fmt::format("{} values for a model of {}", m.values.size(), l.model_size),
      l);
}

std::optional<std::string> message_problem(const model_update& m, const message_limits& l) {
  checker c;
  c.require(m.version >= 1, "version 0 (an update produces version 1 or later)");
  c.require(m.step >= 0, "step {}", m.step);
  c.require(m.seeds.size() <= l.max_seed_groups, "{} seeds (at most {})", m.seeds.size(),
            l.max_seed_groups);
  c.require(m.coefficients.size() == m.seeds.size() * l.k,
            "{} coefficients for {} seeds and K = {}", m.coefficients.size(), m.seeds.size(), l.k);
  c.all_finite(m.coefficients, "coefficients");
  return c.done("model_update");
}

std::optional<std::string> message_problem(const dense_update& m, const message_limits& l) {
  checker c;
  c.require(m.version >= 1, "version 0 (an update produces version 1 or later)");
  c.require(m.step >= 0, "step {}", m.step);
  c.size(m.values.size(), l.model_size, "values");
  c.all_finite(m.values, "values");
  return c.done("dense_update");
}

namespace {
/// A task for one of a node's clients: the client's id, then the task's own checks.
template <class NodeTask>
std::optional<std::string> node_task_problem(const NodeTask& m, const message_limits& l) {
  checker c;
  c.client(m.client, l);
  check_task(c, m.task, l);
  return c.done(message_name<NodeTask>());
}
}  // namespace

std::optional<std::string> message_problem(const node_round_task& m, const message_limits& l) {
  return node_task_problem(m, l);
}

std::optional<std::string> message_problem(const node_backprop_task& m, const message_limits& l) {
  return node_task_problem(m, l);
}

std::optional<std::string> message_problem(const model_snapshot& m, const message_limits& l) {
  checker c;
  c.size(m.params.size(), l.model_size, "params");
  // Moments and EMA are empty when the optimizer or the scenario has none.
  for (const auto* v : {&m.opt_m, &m.opt_v, &m.ema})
    c.require(v->empty() || v->size() == l.model_size,
              "a state vector of {} elements for a model of {}", v->size(), l.model_size);
  c.require(m.opt_step >= 0, "optimizer step {}", m.opt_step);
  c.require(m.pool_coefficients.empty() || m.pool_coefficients.size() == l.pool_coefficients,
            "{} seed pool coefficients (the scenario's pool has {})", m.pool_coefficients.size(),
            l.pool_coefficients);
  c.all_finite(m.pool_coefficients, "pool_coefficients");
  c.all_finite(m.params, "params");
  c.all_finite(m.opt_m, "opt_m");
  c.all_finite(m.opt_v, "opt_v");
  c.all_finite(m.ema, "ema");
  return c.done("model_snapshot");
}

std::optional<std::string> message_problem(const run_outcome& m, const message_limits&) {
  checker c;
  c.require(m.rounds >= 0, "{} rounds", m.rounds);
  c.require(known(m.error_class), "an unknown error kind");
  c.finite(m.sim_time_s, "sim_time_s");
  c.finite(m.final_test_loss, "final_test_loss");
  c.finite(m.final_test_acc, "final_test_acc");
  return c.done("run_outcome");
}

std::optional<std::string> message_problem(const node_layout& m, const message_limits& l) {
  checker c;
  c.require(m.capacity.size() <= l.max_nodes, "a layout of {} nodes (at most {})",
            m.capacity.size(), l.max_nodes);
  uint64_t total = 0;
  for (uint32_t x : m.capacity) {
    c.require(x <= l.max_capacity, "a node capacity of {} (at most {})", x, l.max_capacity);
    total += x;
  }
  c.require(total > 0, "a layout in which no node holds clients");
  return c.done("node_layout");
}

template <class T>
result<T> decode_message(std::span<const char> bytes, const message_limits& l) {
  bounded_deserializer source(bytes, l.max_sequence<T>(), l.max_string);
  T msg;
  if (auto err = source(msg)) {
    return error_message{std::string(message_name<T>()) + ": refused " + source.why()};
  }
  if (source.remaining() != 0) {
    return error_message{
        fmt::format("{}: {} bytes after the message", message_name<T>(), source.remaining())};
  }
  if (auto problem = message_problem(msg, l)) return error_message{*problem};
  return msg;
}

#define BAFFLE_WIRE_INSTANTIATE(T)                           \
  template uint64_t message_limits::max_sequence<T>() const; \
  template result<T> decode_message<T>(std::span<const char>, const message_limits&);
BAFFLE_WIRE_TYPES(BAFFLE_WIRE_INSTANTIATE)
#undef BAFFLE_WIRE_INSTANTIATE

}  // namespace baffle
