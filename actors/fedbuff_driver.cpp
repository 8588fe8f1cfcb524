// The async policy (FedBuff): `concurrency` dispatches in flight, results taken strictly in
// virtual-time order, one staleness-weighted update every `buffer` results.
#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "actors/algorithm.hpp"
#include "actors/checkpoint.hpp"

namespace baffle::server_detail {
namespace {

void async_advance(self_ptr self);
void async_aggregate(self_ptr self);
void send_task(self_ptr self, const async_entry& e);

/// An idle client online at t, drawn uniformly from stream (seed, selection, dispatch number):
/// a few rejection draws, then a draw among the eligible clients if most are busy or offline.
std::optional<uint32_t> pick_idle_client(const server_state& st, sim_time t, uint64_t key) {
  const world& w = *st.w;
  const auto n = static_cast<uint64_t>(w.sc.clients.count);
  const stream_id s{derive_seed(w.sc.seed, purpose::selection, 1), purpose::selection,
                    static_cast<uint32_t>(key)};
  constexpr int tries = 16;
  for (int i = 0; i < tries; ++i) {
    const auto c = static_cast<uint32_t>(uniform_below(s, static_cast<uint64_t>(i), n));
    if (st.busy[c] == 0 && w.online.available(c, t)) return c;
  }
  std::vector<uint32_t> eligible;
  for (uint32_t c = 0; c < n; ++c)
    if (st.busy[c] == 0 && w.online.available(c, t)) eligible.push_back(c);
  if (eligible.empty()) return std::nullopt;
  return eligible[uniform_below(s, tries, eligible.size())];
}

bool queue_later(const std::tuple<sim_time, uint32_t, uint64_t>& a,
                 const std::tuple<sim_time, uint32_t, uint64_t>& b) {
  return a > b;  // std::push_heap keeps the largest on top; this makes it the earliest
}

/// Fills one free slot at st.now: picks a client, plans its dispatch on the current model.
/// Returns false when no idle client is online (the slot stays free until the next event).
bool async_dispatch_one(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  const auto picked = pick_idle_client(st, st.now, st.seq + 1);
  if (!picked) return false;
  const uint32_t c = *picked;
  async_entry e;
  e.seq = ++st.seq;
  e.client = c;
  e.version = st.model.replica->version;
  e.dispatch = st.now;
  const model_download download = download_for(st, c);
  e.start = planned_start(w, c, st.now, st.costs, download);
  e.arrival = planned_arrival(w, c, static_cast<int64_t>(e.seq), st.now, st.costs, download);
  // A client that vanishes, or goes offline before its result arrives, is dropped; the server
  // gives up on it (and frees its slot) when its result would have arrived.
  e.dropped =
      drops_out(w.failures, w.sc.seed, c, e.seq) || w.online.next_change(c, st.now) <= e.arrival;
  st.busy[c] = 1;
  st.interval.selected += 1;
  st.clients_seen[c].selected += 1;
  using k = event_record::kind;
  const auto r = st.interval.round;
  if (e.dropped) {
    st.interval_events.push_back({st.now, r, k::dropout, c, fmt::format("seq={}", e.seq)});
  } else {
    e.down_bytes = download_bytes(st.costs, download);
    st.interval.bytes_down += e.down_bytes;
    note_download(st, c, download);
    st.interval_events.push_back(
        {st.now, r, k::dispatch, c, fmt::format("seq={} version={}", e.seq, e.version)});
  }
  st.queue.emplace_back(e.arrival, c, e.seq);
  std::push_heap(st.queue.begin(), st.queue.end(), queue_later);
  const auto& entry = st.entries.emplace(e.seq, std::move(e)).first->second;
  // The task leaves now, on the version it was dispatched with; its node computes it while the
  // server goes on through the event queue.
  if (!entry.dropped) send_task(self, entry);
  return true;
}

/// Fills every free slot it can at st.now.
void async_refill(self_ptr self, int freed) {
  auto& st = self->state;
  int want = freed + st.starved;
  st.starved = 0;
  while (want > 0 && async_dispatch_one(self)) --want;
  st.starved = want;
}

/// The server's step from the buffered results, then the report, then the next events.
void async_aggregate(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  std::vector<async_entry*> buf;
  for (uint64_t s : st.buffer) {
    auto& e = st.entries.at(s);
    if (!e.failed) buf.push_back(&e);
  }
  // Deterministic order: by model version, client, dispatch.
  std::sort(buf.begin(), buf.end(), [](const async_entry* a, const async_entry* b) {
    return std::tie(a->version, a->client, a->seq) < std::tie(b->version, b->client, b->seq);
  });
  round_record& rec = st.interval;
  const uint64_t version = st.model.replica->version;
  std::vector<contribution> in;
  double loss_weighted = 0.0, total = 0.0, stale_sum = 0.0;
  for (const async_entry* e : buf) {
    const result_head r = head_of(e->result);
    const auto tau = static_cast<int64_t>(version - e->version);
    // A dispatch on version v computed with the perturbations of "round" v + 1.
    in.push_back({&e->result, e->version + 1, staleness_weight(w.sc.server, tau), e->version});
    loss_weighted += static_cast<double>(r.samples) * r.base_loss;
    total += r.samples;
    stale_sum += static_cast<double>(tau);
    rec.stale_max = std::max(rec.stale_max, tau);
    rec.forward_passes += r.forward_passes;
    client_record& c = st.clients_seen[e->client];
    c.participated += 1;
    c.staleness_sum += tau;
  }
  rec.participants = static_cast<int>(buf.size());
  rec.stale_mean = buf.empty() ? 0.0 : stale_sum / static_cast<double>(buf.size());
  rec.train_loss = total > 0 ? loss_weighted / total : 0.0;
  // Every buffered client failed: nothing to apply.
  if (!in.empty()) st.algorithm->step(self, in, rec.round);
  st.interval_events.push_back(
      {st.now, rec.round, event_record::kind::aggregate, -1,
       fmt::format("participants={} stale_max={}", rec.participants, rec.stale_max)});
  for (uint64_t s : st.buffer) st.entries.erase(s);
  st.buffer.clear();
  round_record done = std::move(st.interval);
  auto events = std::move(st.interval_events);
  st.interval = round_record{};
  st.interval.round = done.round + 1;
  st.interval_events.clear();
  if (complete_update(self, done, std::move(events))) return;
  async_refill(self, 1);  // the slot of the arrival that filled the buffer, on the new model
  if (!checkpoint_or_stop(self, done.round)) async_advance(self);
}

/// Sends one dispatch's task to its client through the client's node, on the version it was
/// dispatched with. The reply is kept in the entry (unless the entry is gone: a late result);
/// while the server waits to aggregate, the last reply on the current version starts it.
void send_task(self_ptr self, const async_entry& e) {
  const uint64_t seq = e.seq;
  self->state.algorithm->send(
      self, e.client, seq, e.version + 1, e.start,
      [self, seq, client = e.client,
       arrival = e.arrival](caf::expected<any_result> reply) -> std::optional<std::string> {
        auto& s = self->state;
        const auto it = s.entries.find(seq);
        if (s.over || it == s.entries.end()) return std::nullopt;
        async_entry& entry = it->second;
        if (!reply) {
          fail_run(self, refusal(reply.error()).value_or(lost_task(client, reply.error())));
          return std::nullopt;
        }
        if (auto why = result_problem(s, *reply, client, seq, arrival)) return why;
        entry.result = std::move(*reply);
        entry.computed = true;
        if (s.pending > 0 && entry.version == s.model.replica->version && --s.pending == 0)
          async_aggregate(self);
        return std::nullopt;
      });
}

void resend_unsettled(self_ptr self) {
  auto& st = self->state;
  for (const auto& [seq, e] : st.entries) {
    if (e.dropped || e.computed || e.failed) continue;
    if (e.version != st.model.replica->version) {
      fail_run(self, fmt::format("the checkpoint has no result for dispatch {} on model version "
                                 "{} (the model is at version {}); it cannot be resumed",
                                 seq, e.version, st.model.replica->version));
      return;
    }
    send_task(self, e);
  }
}

/// Aggregates once every dispatch on the current model has its result: the model may change only
/// then, so the nodes never hold two versions (see actors/node.hpp).
void aggregate_when_computed(self_ptr self) {
  auto& st = self->state;
  st.pending = 0;
  for (const auto& [seq, e] : st.entries)
    if (e.version == st.model.replica->version && !e.dropped && !e.computed && !e.failed)
      st.pending += 1;
  if (st.pending == 0) async_aggregate(self);
}

/// Processes arrivals in virtual-time order (ties by client, then dispatch) until `buffer`
/// results are in; every arrival frees its slot for a new dispatch at that time.
void async_advance(self_ptr self) {
  auto& st = self->state;
  const world& w = *st.w;
  using k = event_record::kind;
  while (true) {
    if (st.queue.empty()) {
      // Every slot is free and no client was online to fill them: wait for the first idle client
      // to come online.
      sim_time next = availability::never;
      for (uint32_t c = 0; c < static_cast<uint32_t>(w.sc.clients.count); ++c)
        if (st.busy[c] == 0) next = std::min(next, w.online.next_change(c, st.now));
      if (next == availability::never) {
        st.totals.error = fmt::format(
            "async: no client is online at {:.3f} s or later, so the run cannot reach {} updates "
            "(stopped after {}); check the availability trace",
            st.now.seconds(), w.sc.train.rounds, st.interval.round - 1);
        finish_run(self);
        return;
      }
      st.now = next;
      async_refill(self, 0);
      continue;
    }
    std::pop_heap(st.queue.begin(), st.queue.end(), queue_later);
    const uint64_t seq = std::get<2>(st.queue.back());
    st.queue.pop_back();
    async_entry& e = st.entries.at(seq);
    st.now = e.arrival;
    st.busy[e.client] = 0;
    client_record& c = st.clients_seen[e.client];
    const auto r = st.interval.round;
    if (e.dropped) {
      st.interval.dropped += 1;
      c.dropped += 1;
      st.entries.erase(seq);
      // A fleet whose every dispatch drops (say, clients online only for windows shorter than a
      // round trip) would loop forever without an update: stop with a reason instead.
      const int64_t limit = std::max<int64_t>(10000, 100 * int64_t{w.sc.server.concurrency});
      if (++st.drops_in_a_row >= limit) {
        st.totals.error = fmt::format(
            "async: {} dispatches in a row dropped out (dropout or going offline before their "
            "result arrived) by {:.3f} s, after {} updates; no result can arrive - check "
            "clients.dropout and the availability trace",
            st.drops_in_a_row, st.now.seconds(), st.interval.round - 1);
        finish_run(self);
        return;
      }
    } else {
      st.drops_in_a_row = 0;
      const auto tau = static_cast<int64_t>(st.model.replica->version - e.version);
      const sim_time link = transfer_time(w.downlink[e.client], e.down_bytes) +
                            transfer_time(w.uplink[e.client], st.costs.result_bytes);
      c.link_time += link;
      c.compute_time += (e.arrival - e.dispatch) - link;
      st.interval.bytes_up += st.costs.result_bytes;
      if (w.sc.server.max_staleness > 0 && tau > w.sc.server.max_staleness) {
        st.interval.late += 1;
        st.interval.wasted_forward_passes += st.costs.forward_passes;
        c.late += 1;
        st.interval_events.push_back(
            {st.now, r, k::late, e.client, fmt::format("seq={} staleness={}", seq, tau)});
        st.entries.erase(seq);
      } else {
        st.interval_events.push_back(
            {st.now, r, k::arrive, e.client, fmt::format("seq={} staleness={}", seq, tau)});
        st.buffer.push_back(seq);
        if (static_cast<int>(st.buffer.size()) >= w.sc.server.buffer) {
          aggregate_when_computed(self);
          return;
        }
      }
    }
    async_refill(self, 1);
  }
}

void start_async(self_ptr self) {
  auto& st = self->state;
  st.busy.assign(static_cast<size_t>(st.w->sc.clients.count), 0);
  st.interval = round_record{};
  st.interval.round = 1;
  async_refill(self, st.w->sc.server.concurrency);
  async_advance(self);
}

/// After a resume: the dispatches on the current model go out again, then the events go on - or,
/// if the checkpoint was written while a full buffer waited for results (no node was left), the
/// update waits for them again.
void resume_async(self_ptr self) {
  auto& st = self->state;
  resend_unsettled(self);
  if (st.over) return;
  if (static_cast<int>(st.buffer.size()) >= st.w->sc.server.buffer) {
    aggregate_when_computed(self);
  } else {
    async_advance(self);
  }
}

/// The state while a full buffer waits for results: as it is (the dispatches on the current model
/// are saved as not computed, and resume sends them again).
std::string state_while_waiting(self_ptr self, int64_t& round) {
  auto& st = self->state;
  round = st.interval.round - 1;
  return save_server_state(st);
}

}  // namespace

policy_driver fedbuff_driver() {
  return {start_async, resume_async, state_while_waiting};
}

}  // namespace baffle::server_detail
