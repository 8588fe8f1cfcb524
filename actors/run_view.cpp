// One run as the monitor sees it (see run_view.hpp): the rows so far, running totals, per-client
// tallies, and the JSON and Prometheus bodies built from them.
#include "actors/run_view.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace baffle {

using ojson = nlohmann::ordered_json;

monitor_run_info run_info_of(const scenario& sc, int nodes) {
  monitor_run_info info;
  info.name = sc.name;
  info.policy = std::string(name_of(sc.server.policy));
  info.algorithm = std::string(name_of(sc.train.algorithm));
  info.total_rounds = sc.train.rounds;
  info.clients = sc.clients.count;
  info.nodes = nodes;
  info.async = sc.server.policy == policy_kind::async;
  return info;
}

std::string_view name_of(run_state s) {
  switch (s) {
    case run_state::waiting:
      return "waiting";
    case run_state::running:
      return "running";
    case run_state::finished:
      return "finished";
    case run_state::stopped:
      return "stopped";
    case run_state::failed:
      return "failed";
  }
  return "?";
}

run_view::run_view(monitor_run_info info)
    : info_(std::move(info)), tallies_(static_cast<size_t>(std::max(0, info_.clients))) {}

void run_view::add_round(const round_row& row) {
  const round_record& r = row.rec;
  if (state_ == run_state::waiting) state_ = run_state::running;
  rounds_.push_back(row);
  bytes_up_ += r.bytes_up;
  bytes_down_ += r.bytes_down;
  node_bytes_ += r.node_bytes;
  forward_passes_ += r.forward_passes;
  wasted_ += r.wasted_forward_passes;
  dropped_ += r.dropped;
  late_ += r.late;
  participants_ += r.participants;
  selected_ += r.selected;
  if (r.test_acc) {
    test_acc_ = r.test_acc;
    test_loss_ = r.test_loss;
    val_acc_ = r.val_acc;
    val_loss_ = r.val_loss;
    eval_round_ = r.round;
  }
}

void run_view::add_events(const std::vector<event_record>& events) {
  for (const event_record& e : events) {
    if (e.client < 0 || static_cast<size_t>(e.client) >= tallies_.size()) continue;
    client_tally& t = tallies_[static_cast<size_t>(e.client)];
    switch (e.what) {
      case event_record::kind::dropout:
        ++t.dropped;
        ++t.selected;
        break;
      case event_record::kind::arrive:
        ++t.participated;
        ++t.selected;
        break;
      case event_record::kind::late:
        ++t.late;
        ++t.selected;
        break;
      case event_record::kind::round_start:
      case event_record::kind::dispatch:
      case event_record::kind::aggregate:
        break;
    }
  }
}

void run_view::set_clients(const std::vector<client_record>& clients) {
  clients_ = clients;
}

void run_view::set_state(run_state s, std::string message) {
  state_ = s;
  message_ = std::move(message);
}

namespace {

/// A JSON number, or null for a missing or non-finite value.
ojson number_or_null(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? ojson(*v) : ojson(nullptr);
}

}  // namespace

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string format_sample_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

}  // namespace

std::string prometheus_text(
    const std::vector<std::pair<std::string, std::vector<metric_sample>>>& sets) {
  std::string out;
  if (sets.empty()) return out;
  // Every set lists the same families in the same order (run_view::metrics).
  const std::vector<metric_sample>& families = sets.front().second;
  for (size_t f = 0; f < families.size(); ++f) {
    const metric_sample& m = families[f];
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", m.name, m.help, m.name, m.type);
    for (const auto& [labels, samples] : sets) {
      if (f >= samples.size() || !samples[f].value) continue;
      std::string all = labels;
      if (!samples[f].labels.empty()) all += (all.empty() ? "" : ",") + samples[f].labels;
      out += all.empty() ? std::string(m.name) : fmt::format("{}{{{}}}", m.name, all);
      out += ' ' + format_sample_value(*samples[f].value) + '\n';
    }
  }
  return out;
}

std::string run_view::status_json() const {
  ojson j;
  j["name"] = info_.name;
  j["policy"] = info_.policy;
  j["algorithm"] = info_.algorithm;
  j["state"] = name_of(state_);
  j["message"] = message_;
  j["round"] = last_round();
  j["total_rounds"] = info_.total_rounds;
  j["round_unit"] = info_.async ? "update" : "round";
  const round_row* last = rounds_.empty() ? nullptr : &rounds_.back();
  j["sim_time_s"] = last ? last->rec.end_time.seconds() : 0.0;
  j["wall_time_s"] = last ? last->wall_s : 0.0;
  std::optional<double> eta;
  if (last && state_ == run_state::running && last->rec.round > 0) {
    eta = last->wall_s / static_cast<double>(last->rec.round) *
          static_cast<double>(std::max<int64_t>(0, info_.total_rounds - last->rec.round));
  } else if (state_ == run_state::finished) {
    eta = 0.0;
  }
  j["eta_s"] = number_or_null(eta);
  j["train_loss"] =
      number_or_null(last ? std::optional<double>(last->rec.train_loss) : std::nullopt);
  j["test_acc"] = number_or_null(test_acc_);
  j["test_loss"] = number_or_null(test_loss_);
  j["val_acc"] = number_or_null(val_acc_);
  j["val_loss"] = number_or_null(val_loss_);
  j["eval_round"] = eval_round_;
  ojson lr = ojson::object();
  lr["selected"] = last ? last->rec.selected : 0;
  lr["participants"] = last ? last->rec.participants : 0;
  lr["dropped"] = last ? last->rec.dropped : 0;
  lr["late"] = last ? last->rec.late : 0;
  lr["stale_mean"] = last ? last->rec.stale_mean : 0.0;
  lr["stale_max"] = last ? last->rec.stale_max : 0;
  j["last_round"] = lr;
  j["bytes_up_total"] = bytes_up_;
  j["bytes_down_total"] = bytes_down_;
  j["node_bytes_total"] = node_bytes_;
  j["forward_passes_total"] = forward_passes_;
  j["wasted_forward_passes_total"] = wasted_;
  j["clients"] = info_.clients;
  ojson nodes = ojson::array();
  if (!nodes_.empty()) {
    // The server's account: where each node runs, whether it is still in the run, its results.
    for (const node_record& r : nodes_) {
      ojson node;
      node["node"] = r.node;
      node["host"] = r.host;
      node["threads"] = r.threads;
      node["state"] = r.left ? std::string("lost") : std::string(name_of(state_));
      node["joined"] = r.joined;
      if (r.left) {
        node["left"] = *r.left;
        node["reason"] = r.reason;
      }
      node["tasks_done"] = r.tasks_done;
      nodes.push_back(std::move(node));
    }
    j["nodes"] = std::move(nodes);
    return j.dump();
  }
  // Until the server reports: client c lives on node c mod N; a node's tasks done are its
  // clients' aggregated results.
  const int n = std::max(1, info_.nodes);
  for (int i = 0; i < n; ++i) {
    int64_t done = 0;
    int count = 0;
    for (size_t c = static_cast<size_t>(i); c < tallies_.size(); c += static_cast<size_t>(n)) {
      ++count;
      done +=
          clients_.size() == tallies_.size() ? clients_[c].participated : tallies_[c].participated;
    }
    ojson node;
    node["node"] = i;
    node["host"] = static_cast<size_t>(i) < info_.node_hosts.size()
                       ? info_.node_hosts[static_cast<size_t>(i)]
                       : std::string("in-process");
    node["clients"] = count;
    node["state"] = name_of(state_);
    node["tasks_done"] = done;
    nodes.push_back(std::move(node));
  }
  j["nodes"] = std::move(nodes);
  return j.dump();
}

std::string run_view::rounds_json(int64_t since) const {
  std::string out =
      fmt::format("{{\"since\":{},\"last_round\":{},\"rounds\":[", since, last_round());
  bool first = true;
  // Rows are in round order: start at the first row after `since`.
  auto it = std::upper_bound(rounds_.begin(), rounds_.end(), since,
                             [](int64_t s, const round_row& r) { return s < r.rec.round; });
  for (; it != rounds_.end(); ++it) {
    if (!first) out += ',';
    first = false;
    out += rounds_json_object(*it);
  }
  return out + "]}";
}

std::string run_view::clients_json() const {
  ojson j;
  const bool final = !clients_.empty();
  j["final"] = final;
  ojson list = ojson::array();
  if (final) {
    for (const client_record& c : clients_) {
      ojson o;
      o["client"] = c.client;
      o["shard_size"] = c.shard_size;
      o["gflops"] = c.gflops;
      o["uplink_latency_s"] = c.uplink_latency.seconds();
      o["downlink_latency_s"] = c.downlink_latency.seconds();
      o["selected"] = c.selected;
      o["participated"] = c.participated;
      o["dropped"] = c.dropped;
      o["late"] = c.late;
      o["mean_staleness"] =
          c.participated > 0 ? static_cast<double>(c.staleness_sum) / c.participated : 0.0;
      o["compute_s"] = c.compute_time.seconds();
      o["link_s"] = c.link_time.seconds();
      o["labels"] = c.labels;
      list.push_back(std::move(o));
    }
  } else {
    for (size_t c = 0; c < tallies_.size(); ++c) {
      const client_tally& t = tallies_[c];
      list.push_back(ojson{{"client", c},
                           {"selected", t.selected},
                           {"participated", t.participated},
                           {"dropped", t.dropped},
                           {"late", t.late}});
    }
  }
  j["clients"] = std::move(list);
  return j.dump();
}

std::vector<metric_sample> run_view::metrics() const {
  std::vector<metric_sample> out;
  const round_row* last = rounds_.empty() ? nullptr : &rounds_.back();
  auto of_last = [&](auto member) -> std::optional<double> {
    return last ? std::optional<double>(static_cast<double>(last->rec.*member)) : std::nullopt;
  };
  auto count = [&](std::string_view name, std::string_view help, double v) {
    out.push_back({name, "counter", help, v, {}});
  };
  auto gauge = [&](std::string_view name, std::string_view help, std::optional<double> v) {
    out.push_back({name, "gauge", help, v, {}});
  };
  out.push_back({"baffle_run_info", "gauge",
                 "The run: scenario name, server policy, algorithm and state (always 1).", 1.0,
                 fmt::format("name=\"{}\",policy=\"{}\",algorithm=\"{}\",state=\"{}\"",
                             escape_label(info_.name), escape_label(info_.policy),
                             escape_label(info_.algorithm), name_of(state_))});
  count("baffle_rounds_total", "Rounds completed (under the async policy: server updates).",
        static_cast<double>(last_round()));
  gauge("baffle_rounds_planned", "Rounds the scenario runs (train.rounds).",
        static_cast<double>(info_.total_rounds));
  count("baffle_bytes_up_total", "Serialized bytes of the clients' results (rounds.csv bytes_up).",
        static_cast<double>(bytes_up_));
  count("baffle_bytes_down_total", "Bytes the clients downloaded (rounds.csv bytes_down).",
        static_cast<double>(bytes_down_));
  count("baffle_node_bytes_total", "Bytes the server exchanged with its nodes.",
        static_cast<double>(node_bytes_));
  count("baffle_forward_passes_total", "Forward passes of the aggregated clients.",
        static_cast<double>(forward_passes_));
  count("baffle_wasted_forward_passes_total", "Forward passes late clients did for nothing.",
        static_cast<double>(wasted_));
  count("baffle_selected_clients_total", "Client selections (over-selection included).",
        static_cast<double>(selected_));
  count("baffle_participants_total", "Client results aggregated.",
        static_cast<double>(participants_));
  count("baffle_dropped_clients_total", "Selected clients that vanished (dropout).",
        static_cast<double>(dropped_));
  count("baffle_late_clients_total", "Results that arrived too late and were discarded.",
        static_cast<double>(late_));
  gauge("baffle_test_accuracy", "Test accuracy at the latest evaluation (0..1).", test_acc_);
  gauge("baffle_test_loss", "Test loss at the latest evaluation.", test_loss_);
  gauge("baffle_validation_accuracy", "Validation accuracy at the latest evaluation (0..1).",
        val_acc_);
  gauge("baffle_validation_loss", "Validation loss at the latest evaluation.", val_loss_);
  gauge("baffle_train_loss", "The last round's sample-weighted mean minibatch loss.",
        of_last(&round_record::train_loss));
  gauge("baffle_virtual_time_seconds", "Virtual time at the end of the last round.",
        last ? std::optional<double>(last->rec.end_time.seconds()) : std::nullopt);
  gauge("baffle_wall_time_seconds", "Wall-clock seconds since the run started, at the last round.",
        last ? std::optional<double>(last->wall_s) : std::nullopt);
  gauge("baffle_participants", "Results aggregated in the last round.",
        of_last(&round_record::participants));
  gauge("baffle_selected", "Clients selected in the last round.", of_last(&round_record::selected));
  gauge("baffle_dropped", "Clients that dropped out in the last round.",
        of_last(&round_record::dropped));
  gauge("baffle_late", "Late results in the last round.", of_last(&round_record::late));
  gauge("baffle_staleness_mean", "Async: mean staleness of the last update's results.",
        of_last(&round_record::stale_mean));
  gauge("baffle_staleness_max", "Async: largest staleness in the last update.",
        of_last(&round_record::stale_max));
  return out;
}

http_response run_view::serve(std::string_view path, const http_request& req) const {
  constexpr const char* json = "application/json";
  if (path.empty() || path == "index.html") {
    return {200, "text/html; charset=utf-8", std::string(monitor_page())};
  }
  if (path == "status") return {200, json, status_json()};
  if (path == "clients") return {200, json, clients_json()};
  if (path == "metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text({{"", metrics()}})};
  }
  if (path == "rounds") {
    int64_t since = 0;
    const auto it = req.query.find("since");
    if (it != req.query.end()) {
      const std::string& t = it->second;
      const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), since);
      if (ec != std::errc() || ptr != t.data() + t.size() || since < 0) {
        return {400, "text/plain; charset=utf-8",
                "since must be a round number (0 or more), e.g. /rounds?since=10\n"};
      }
    }
    return {200, json, rounds_json(since)};
  }
  return {404, "text/plain; charset=utf-8",
          "not found; try /, /status, /rounds?since=N, /clients or /metrics\n"};
}

}  // namespace baffle
