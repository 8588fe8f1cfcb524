// Server state <-> bytes, field by field (a format of our own: the structs hold std::optional and
// std::map, which CAF 0.17's inspectors do not cover, and the file is only read by this build).
#include "actors/checkpoint.hpp"

#include <algorithm>
#include <functional>

#include "actors/server.hpp"
#include "net/atomic_file.hpp"

namespace baffle {

namespace {

/// Bumped whenever the layout below changes: an old checkpoint is refused, not misread.
// 2: node_bytes_total; 3: device_state; 4: the seed pool's coefficients after the EMA. Format 3
// is still read (a run without a seed pool has nothing more).
constexpr uint32_t state_format = 4;

void put_optional(byte_writer& o, const std::optional<double>& v) {
  o.put<uint8_t>(v.has_value() ? 1 : 0);
  o.put<double>(v.value_or(0.0));
}

std::optional<double> get_optional(byte_reader& in) {
  const bool has = in.get<uint8_t>() != 0;
  const double v = in.get<double>();
  return has ? std::optional<double>(v) : std::nullopt;
}

void put_record(byte_writer& o, const round_record& r) {
  o.put(r.round);
  o.put(r.end_time);
  o.put(r.train_loss);
  put_optional(o, r.test_loss);
  put_optional(o, r.test_acc);
  put_optional(o, r.val_loss);
  put_optional(o, r.val_acc);
  o.put(r.selected);
  o.put(r.participants);
  o.put(r.dropped);
  o.put(r.late);
  o.put(r.wasted_forward_passes);
  o.put(r.stale_mean);
  o.put(r.stale_max);
  o.put(r.bytes_up);
  o.put(r.bytes_down);
  o.put(r.forward_passes);
}

round_record get_record(byte_reader& in) {
  round_record r;
  r.round = in.get<int64_t>();
  r.end_time = in.get<sim_time>();
  r.train_loss = in.get<double>();
  r.test_loss = get_optional(in);
  r.test_acc = get_optional(in);
  r.val_loss = get_optional(in);
  r.val_acc = get_optional(in);
  r.selected = in.get<int>();
  r.participants = in.get<int>();
  r.dropped = in.get<int>();
  r.late = in.get<int>();
  r.wasted_forward_passes = in.get<int64_t>();
  r.stale_mean = in.get<double>();
  r.stale_max = in.get<int64_t>();
  r.bytes_up = in.get<uint64_t>();
  r.bytes_down = in.get<uint64_t>();
  r.forward_passes = in.get<int64_t>();
  return r;
}

void put_result(byte_writer& o, const round_result& r) {
  o.put(r.round);
  o.put(r.client);
  o.put_vector(r.scalars);
  o.put(r.base_loss);
  o.put(r.samples);
  o.put(r.finish_time);
  o.put(r.forward_passes);
}

round_result get_result(byte_reader& in) {
  round_result r;
  r.round = in.get<uint64_t>();
  r.client = in.get<uint32_t>();
  r.scalars = in.get_vector<float>();
  r.base_loss = in.get<float>();
  r.samples = in.get<uint32_t>();
  r.finish_time = in.get<sim_time>();
  r.forward_passes = in.get<uint32_t>();
  return r;
}

void put_dense(byte_writer& o, const dense_result& r) {
  o.put(r.round);
  o.put(r.client);
  o.put_vector(r.values);
  o.put(r.base_loss);
  o.put(r.samples);
  o.put(r.finish_time);
  o.put(r.forward_passes);
}

dense_result get_dense(byte_reader& in) {
  dense_result r;
  r.round = in.get<uint64_t>();
  r.client = in.get<uint32_t>();
  r.values = in.get_vector<float>();
  r.base_loss = in.get<float>();
  r.samples = in.get<uint32_t>();
  r.finish_time = in.get<sim_time>();
  r.forward_passes = in.get<uint32_t>();
  return r;
}

}  // namespace

std::string write_checkpoint_file(const checkpoint_file& c) {
  byte_writer o;
  o.put_string(c.fingerprint);
  o.put<uint64_t>(c.rounds_csv_bytes);
  o.put<uint64_t>(c.events_bytes);
  o.put<uint8_t>(c.events ? 1 : 0);
  o.put<double>(c.wall_seconds);
  o.put<int64_t>(c.round);
  o.put_string(c.state);
  return seal(o.take());
}

result<checkpoint_file> read_checkpoint_file(std::string_view sealed) {
  const auto payload = unseal(sealed);
  if (!payload) return error_message{payload.error()};
  byte_reader in(*payload);
  checkpoint_file c;
  c.fingerprint = in.get_string();
  c.rounds_csv_bytes = in.get<uint64_t>();
  c.events_bytes = in.get<uint64_t>();
  c.events = in.get<uint8_t>() != 0;
  c.wall_seconds = in.get<double>();
  c.round = in.get<int64_t>();
  c.state = in.get_string();
  if (!in.ok() || !in.at_end()) return error_message{"malformed checkpoint"};
  return c;
}

std::string save_server_state(const server_state& st) {
  byte_writer o;
  o.put(state_format);
  o.put<uint64_t>(st.model.replica->params.size());
  o.put(st.round);
  o.put(st.now);
  o.put_vector(
      std::vector<float>(st.model.replica->params.begin(), st.model.replica->params.end()));
  o.put(st.model.replica->version);
  o.put_vector(st.model.opt.m);
  o.put_vector(st.model.opt.v);
  o.put(st.model.opt.step);
  o.put_vector(st.model.ema);
  o.put_vector(st.model.pool.active() ? st.model.pool.coefficients : std::vector<double>{});
  const run_outcome& t = st.totals;
  o.put(t.rounds);
  o.put(t.sim_time_s);
  o.put(t.final_test_loss);
  o.put(t.final_test_acc);
  o.put(t.bytes_up_total);
  o.put(t.bytes_down_total);
  o.put(t.node_bytes_total);
  o.put(t.forward_passes_total);
  o.put<uint64_t>(st.clients_seen.size());
  for (const client_record& c : st.clients_seen) {
    o.put(c.selected);
    o.put(c.participated);
    o.put(c.dropped);
    o.put(c.late);
    o.put(c.staleness_sum);
    o.put(c.compute_time);
    o.put(c.link_time);
  }
  o.put_vector(st.device_version);
  o.put_vector(st.device_state);
  o.put_vector(st.update_bytes_prefix);
  o.put_vector(st.update_flops_prefix);
  // Async.
  o.put<uint64_t>(st.entries.size());
  const round_result no_result{};
  const dense_result no_dense{};
  for (const auto& [seq, e] : st.entries) {
    // A dispatch on the current model may or may not have its result yet, depending on how fast
    // its node was: saved as not computed (a resumed run sends it again), so the checkpoint's
    // bytes never depend on timing. Results on older versions are all in by now.
    const bool settled = e.version < st.model.replica->version;
    o.put(e.seq);
    o.put(e.client);
    o.put(e.version);
    o.put(e.dispatch);
    o.put(e.start);
    o.put(e.arrival);
    o.put(e.down_bytes);
    o.put<uint8_t>(e.dropped);
    o.put<uint8_t>(settled && e.computed);
    o.put<uint8_t>(settled && e.failed);
    // Both kinds, as before results became one variant (the format is unchanged).
    const auto* baffle = std::get_if<round_result>(&e.result);
    const auto* dense = std::get_if<dense_result>(&e.result);
    put_result(o, settled && baffle != nullptr ? *baffle : no_result);
    put_dense(o, settled && dense != nullptr ? *dense : no_dense);
  }
  o.put<uint64_t>(st.queue.size());
  for (const auto& [arrival, client, seq] : st.queue) {
    o.put(arrival);
    o.put(client);
    o.put(seq);
  }
  o.put_vector(st.busy);
  o.put_vector(st.buffer);
  o.put(st.seq);
  o.put(st.starved);
  o.put(st.drops_in_a_row);
  put_record(o, st.interval);
  o.put<uint64_t>(st.interval_events.size());
  for (const event_record& e : st.interval_events) {
    o.put(e.time);
    o.put(e.round);
    o.put(e.what);
    o.put(e.client);
    o.put_string(e.detail);
  }
  return o.take();
}

result<bool> load_server_state(std::string_view bytes, server_state& st) {
  byte_reader in(bytes);
  const auto format = in.get<uint32_t>();
  if (in.ok() && format != state_format && format != 3) {
    return error_message{"checkpoint: server state format " + std::to_string(format) +
                         ", this build reads format " + std::to_string(state_format) +
                         "; resume with the build that wrote it, or start the run again"};
  }
  const auto n = in.get<uint64_t>();
  if (in.ok() && n != st.model.replica->params.size()) {
    return error_message{"checkpoint: the model has " + std::to_string(n) +
                         " parameters, the scenario's has " +
                         std::to_string(st.model.replica->params.size()) +
                         "; the checkpoint belongs to another scenario"};
  }
  st.round = in.get<int64_t>();
  st.now = in.get<sim_time>();
  const auto params = in.get_vector<float>();
  if (in.ok() && params.size() == n)
    std::copy(params.begin(), params.end(), st.model.replica->params.begin());
  st.model.replica->version = in.get<uint64_t>();
  st.model.opt.m = in.get_vector<float>();
  st.model.opt.v = in.get_vector<float>();
  st.model.opt.step = in.get<int64_t>();
  st.model.ema = in.get_vector<float>();
  const auto pool = format >= 4 ? in.get_vector<double>() : std::vector<double>{};
  if (in.ok() && (st.model.pool.active() || !pool.empty())) {
    // Found by fuzz_checkpoint: a state built without an arena (tools, tests) must not bind one.
    tbb::task_arena serial(1);
    if (auto problem = restore_pool(st.model, *st.w, pool, st.model.replica->view(),
                                    st.model.replica->version, st.arena ? *st.arena : serial))
      return error_message{"checkpoint: " + *problem +
                           "; the checkpoint is damaged or belongs to another scenario"};
  }
  run_outcome& t = st.totals;
  t.rounds = in.get<int64_t>();
  t.sim_time_s = in.get<double>();
  t.final_test_loss = in.get<double>();
  t.final_test_acc = in.get<double>();
  t.bytes_up_total = in.get<uint64_t>();
  t.bytes_down_total = in.get<uint64_t>();
  t.node_bytes_total = in.get<uint64_t>();
  t.forward_passes_total = in.get<int64_t>();
  const auto clients = in.get<uint64_t>();
  if (in.ok() && clients != st.clients_seen.size()) {
    return error_message{"checkpoint: " + std::to_string(clients) + " clients, the scenario has " +
                         std::to_string(st.clients_seen.size()) +
                         "; the checkpoint belongs to another scenario"};
  }
  for (client_record& c : st.clients_seen) {
    if (!in.ok()) break;
    c.selected = in.get<int>();
    c.participated = in.get<int>();
    c.dropped = in.get<int>();
    c.late = in.get<int>();
    c.staleness_sum = in.get<int64_t>();
    c.compute_time = in.get<sim_time>();
    c.link_time = in.get<sim_time>();
  }
  st.device_version = in.get_vector<uint64_t>();
  st.device_state = in.get_vector<uint8_t>();
  st.update_bytes_prefix = in.get_vector<uint64_t>();
  st.update_flops_prefix = in.get_vector<double>();
  const auto entries = in.get<uint64_t>();
  st.entries.clear();
  for (uint64_t i = 0; i < entries && in.ok(); ++i) {
    async_entry e;
    e.seq = in.get<uint64_t>();
    e.client = in.get<uint32_t>();
    e.version = in.get<uint64_t>();
    e.dispatch = in.get<sim_time>();
    e.start = in.get<sim_time>();
    e.arrival = in.get<sim_time>();
    e.down_bytes = in.get<uint64_t>();
    e.dropped = in.get<uint8_t>() != 0;
    e.computed = in.get<uint8_t>() != 0;
    e.failed = in.get<uint8_t>() != 0;
    // A BAFFLE result has K >= 1 scalars; an empty one is a dense result or none at all.
    round_result baffle = get_result(in);
    dense_result dense = get_dense(in);
    if (baffle.scalars.empty()) {
      e.result = std::move(dense);
    } else {
      e.result = std::move(baffle);
    }
    st.entries.emplace(e.seq, std::move(e));
  }
  const auto queued = in.get<uint64_t>();
  st.queue.clear();
  for (uint64_t i = 0; i < queued && in.ok(); ++i) {
    const auto arrival = in.get<sim_time>();
    const auto client = in.get<uint32_t>();
    const auto seq = in.get<uint64_t>();
    st.queue.emplace_back(arrival, client, seq);
  }
  st.busy = in.get_vector<uint8_t>();
  st.buffer = in.get_vector<uint64_t>();
  st.seq = in.get<uint64_t>();
  st.starved = in.get<int>();
  st.drops_in_a_row = in.get<int64_t>();
  st.interval = get_record(in);
  const auto events = in.get<uint64_t>();
  st.interval_events.clear();
  for (uint64_t i = 0; i < events && in.ok(); ++i) {
    event_record e;
    e.time = in.get<sim_time>();
    e.round = in.get<int64_t>();
    e.what = in.get<event_record::kind>();
    e.client = in.get<int64_t>();
    e.detail = in.get_string();
    st.interval_events.push_back(std::move(e));
  }
  if (!in.ok() || !in.at_end()) {
    return error_message{"checkpoint: the server state is truncated or malformed"};
  }
  // Cross-checks a corrupt but well-formed file could still fail.
  const size_t count = st.clients_seen.size();
  const bool sizes_ok = st.device_version.size() == count && st.device_state.size() == count &&
                        (st.busy.empty() || st.busy.size() == count) &&
                        !st.update_bytes_prefix.empty() &&
                        st.update_bytes_prefix.size() == st.update_flops_prefix.size() &&
                        st.update_bytes_prefix.size() <= st.model.replica->version + 1 &&
                        (st.w->sc.baffle.download != download_mode::replay ||
                         st.update_bytes_prefix.size() == st.model.replica->version + 1);
  bool refs_ok = true;
  for (const auto& [arrival, client, seq] : st.queue)
    refs_ok = refs_ok && client < count && st.entries.count(seq) == 1;
  for (uint64_t seq : st.buffer) refs_ok = refs_ok && st.entries.count(seq) == 1;
  for (const auto& [seq, e] : st.entries) refs_ok = refs_ok && e.client < count;
  if (!sizes_ok || !refs_ok) {
    return error_message{"checkpoint: the server state is inconsistent (sizes or references)"};
  }
  // What the resumed run indexes with or reads in full: each must fit the scenario's model and
  // the version the state holds, or the run would read past a buffer.
  const uint64_t version = st.model.replica->version;
  const size_t k = static_cast<size_t>(st.w->sc.baffle.k);
  const auto model_sized = [n](size_t size) { return size == 0 || size == n; };
  std::string why;
  if (st.round < 0 || st.now.ns < 0 || st.model.opt.step < 0) {
    why = "a negative round, time or optimizer step";
  } else if (!model_sized(st.model.opt.m.size()) || !model_sized(st.model.opt.v.size()) ||
             !model_sized(st.model.ema.size())) {
    why = "optimizer moments or EMA of another model's size";
  } else if (std::any_of(st.device_version.begin(), st.device_version.end(),
                         [&](uint64_t v) { return v > version; })) {
    why = "a client holding a model version after the server's";
  } else if (!std::is_heap(st.queue.begin(), st.queue.end(), std::greater<>{})) {
    why = "the arrival queue out of order";
  }
  for (const auto& [seq, e] : st.entries) {
    if (!why.empty()) break;
    const auto* r = std::get_if<round_result>(&e.result);
    const auto* d = std::get_if<dense_result>(&e.result);
    const bool result_sized = r == nullptr || r->scalars.empty() || r->scalars.size() == k;
    const bool dense_sized = d == nullptr || model_sized(d->values.size());
    const bool has_result =
        (r != nullptr && r->scalars.size() == k) || (d != nullptr && d->values.size() == n);
    if (e.seq != seq || e.version > version) {
      why = "a dispatch on a model version after the server's";
    } else if (!result_sized || !dense_sized || (e.computed && !has_result)) {
      why = "a dispatch's result of the wrong size";
    }
  }
  for (const event_record& e : st.interval_events) {
    if (!why.empty()) break;
    if (e.what > event_record::kind::aggregate) why = "an unknown event kind";
  }
  if (!why.empty())
    return error_message{"checkpoint: the server state is inconsistent (" + why + ")"};
  return true;
}

}  // namespace baffle
