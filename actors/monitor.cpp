// The live monitor (see monitor.hpp): the state every request reads lives on the HTTP server's
// thread; the sink and the sweep hand it copies of their reports through http_server::post.
#include "actors/monitor.hpp"

#include <charconv>
#include <future>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace baffle {

namespace {

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// A point's name as one URL path segment (names are [A-Za-z0-9._+-], see tools/sweep.hpp; any
/// other byte is percent-encoded anyway).
std::string url_segment(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    out += safe ? std::string(1, static_cast<char>(c)) : fmt::format("%{:02X}", c);
  }
  return out;
}

http_response not_found(std::string hint) {
  return {404, "text/plain; charset=utf-8", hint + "\n"};
}

}  // namespace

/// What the monitor serves: one run, or a sweep's points.
struct monitor::site {
  struct point {
    std::string name;
    std::string overrides;  ///< "baffle.k=20 train.lr=0.01"
    run_view view;
    std::optional<double> final_test_acc;
  };

  bool sweep = false;
  run_view run;
  std::vector<point> points;

  http_response serve(const http_request& req) const {
    if (!sweep) return run.serve(std::string_view(req.path).substr(1), req);
    const std::string_view path = std::string_view(req.path).substr(1);
    if (path.empty() || path == "index.html") {
      return {200, "text/html; charset=utf-8", index_html()};
    }
    if (path == "status") return {200, "application/json", index_json()};
    if (path == "metrics") {
      std::vector<std::pair<std::string, std::vector<metric_sample>>> sets;
      for (const point& p : points)
        sets.emplace_back("point=\"" + escape_label(p.name) + "\"", p.view.metrics());
      return {200, "text/plain; version=0.0.4; charset=utf-8", prometheus_text(sets)};
    }
    constexpr std::string_view prefix = "points/";
    if (path.substr(0, prefix.size()) == prefix) {
      const std::string_view rest = path.substr(prefix.size());
      const size_t slash = rest.find('/');
      const std::string_view name = rest.substr(0, slash);
      for (const point& p : points) {
        if (p.name != name) continue;
        if (slash == std::string_view::npos) {
          http_response r{301, "text/plain; charset=utf-8", "see /points/" + p.name + "/\n"};
          r.location = "/points/" + url_segment(p.name) + "/";
          return r;
        }
        return p.view.serve(rest.substr(slash + 1), req);
      }
      return not_found("no such point; the index (/) lists them");
    }
    return not_found("not found; try /, /status, /metrics or /points/NAME/");
  }

  std::string index_json() const {
    nlohmann::ordered_json j;
    j["sweep"] = true;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const point& p : points) {
      nlohmann::ordered_json o;
      o["point"] = p.name;
      o["overrides"] = p.overrides;
      o["state"] = name_of(p.view.state());
      o["round"] = p.view.last_round();
      o["total_rounds"] = p.view.info().total_rounds;
      const std::optional<double> acc =
          p.final_test_acc ? p.final_test_acc : p.view.last_test_acc();
      o["test_acc"] = acc ? nlohmann::ordered_json(*acc) : nlohmann::ordered_json(nullptr);
      o["final"] = p.final_test_acc.has_value();
      o["view"] = "points/" + url_segment(p.name) + "/";
      list.push_back(std::move(o));
    }
    j["points"] = std::move(list);
    return j.dump();
  }

  /// The sweep's index: a table of the points that reloads itself every two seconds.
  std::string index_html() const {
    std::string rows;
    size_t done = 0;
    for (const point& p : points) {
      const run_state s = p.view.state();
      if (s == run_state::finished || s == run_state::failed || s == run_state::stopped) ++done;
      const std::optional<double> acc =
          p.final_test_acc ? p.final_test_acc : p.view.last_test_acc();
      rows += fmt::format(
          "<tr class=\"{}\"><td><a href=\"points/{}/\">{}</a></td><td>{}</td><td>{}</td>"
          "<td>{}/{}</td><td>{}</td></tr>\n",
          name_of(s), url_segment(p.name), html_escape(p.name), html_escape(p.overrides),
          name_of(s), p.view.last_round(), p.view.info().total_rounds,
          acc ? fmt::format("{:.4f}{}", *acc, p.final_test_acc ? "" : " (latest)") : "");
    }
    const std::string name = points.empty() ? "" : html_escape(points.front().view.info().name);
    return fmt::format(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" "
        "content=\"2\"><title>baffle sweep {}</title><style>body{{font:14px system-ui,sans-serif;"
        "margin:20px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px "
        "8px;text-align:left}}tr.running{{background:#eef6ff}}tr.failed,tr.stopped{{background:"
        "#fdecea}}tr.finished{{background:#eefbea}}</style></head><body>\n<h1>baffle sweep {}</h1>"
        "<p id=\"summary\">{} of {} point(s) done</p>\n<table id=\"points\"><tr><th>point</th>"
        "<th>overrides</th><th>state</th><th>round</th><th>final test accuracy</th></tr>\n{}"
        "</table>\n<p><a href=\"status\">status (JSON)</a> &middot; <a href=\"metrics\">metrics"
        "</a></p></body></html>\n",
        name, name, done, points.size(), rows);
  }
};

monitor::monitor(std::shared_ptr<site> s, std::unique_ptr<http_server> server)
    : site_(std::move(s)), server_(std::move(server)) {}

monitor::~monitor() {
  stop();
}

result<std::unique_ptr<monitor>> monitor::start(const std::string& host, uint16_t port,
                                                http_limits limits) {
  auto s = std::make_shared<site>();
  auto server = http_server::start(
      host, port, [s](const http_request& req) { return s->serve(req); }, limits);
  if (!server) return server.failure();
  return std::unique_ptr<monitor>(new monitor(std::move(s), std::move(*server)));
}

double monitor::wall_seconds() const {
  return wall_offset_ +
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void monitor::begin_run(monitor_run_info info, double wall_offset_s,
                        std::vector<round_row> earlier) {
  start_ = std::chrono::steady_clock::now();
  wall_offset_ = wall_offset_s;
  server_->post([s = site_, info = std::move(info), earlier = std::move(earlier)]() mutable {
    s->sweep = false;
    s->run = run_view(std::move(info));
    for (const round_row& r : earlier) s->run.add_round(r);
  });
}

void monitor::set_node_hosts(std::vector<std::string> hosts) {
  server_->post(
      [s = site_, hosts = std::move(hosts)]() mutable { s->run.set_node_hosts(std::move(hosts)); });
}

void monitor::on_nodes(const std::vector<node_record>& nodes) {
  server_->post([s = site_, nodes]() mutable { s->run.set_nodes(std::move(nodes)); });
}

void monitor::end_run(run_state state, std::string message) {
  server_->post([s = site_, state, message = std::move(message)]() mutable {
    s->run.set_state(state, std::move(message));
  });
}

void monitor::on_round(const round_record& r) {
  server_->post([s = site_, row = round_row{r, wall_seconds()}] { s->run.add_round(row); });
}

void monitor::on_clients(const std::vector<client_record>& clients) {
  server_->post([s = site_, clients] { s->run.set_clients(clients); });
}

void monitor::on_events(const std::vector<event_record>& events) {
  server_->post([s = site_, events] { s->run.add_events(events); });
}

void monitor::add_point(std::string name, std::string overrides, monitor_run_info info) {
  server_->post([s = site_, name = std::move(name), overrides = std::move(overrides),
                 info = std::move(info)]() mutable {
    s->sweep = true;
    s->points.push_back({std::move(name), std::move(overrides), run_view(std::move(info)), {}});
  });
}

void monitor::point_rounds(size_t point, std::vector<round_row> rows) {
  server_->post([s = site_, point, rows = std::move(rows)] {
    if (point >= s->points.size()) return;
    for (const round_row& r : rows) s->points[point].view.add_round(r);
  });
}

void monitor::point_state(size_t point, run_state state, std::string message,
                          std::optional<double> final_test_acc) {
  server_->post([s = site_, point, state, message = std::move(message), final_test_acc]() mutable {
    if (point >= s->points.size()) return;
    s->points[point].view.set_state(state, std::move(message));
    if (final_test_acc) s->points[point].final_test_acc = final_test_acc;
  });
}

void monitor::sync() {
  if (stopped_) return;
  std::promise<void> done;
  std::future<void> f = done.get_future();
  server_->post([&done] { done.set_value(); });
  f.wait();
}

void monitor::stop() {
  stopped_ = true;
  if (server_) server_->stop();
}

result<monitor_address> parse_monitor_address(const std::string& text, bool allow_remote) {
  const std::string usage =
      "--monitor takes HOST:PORT, e.g. 127.0.0.1:8080 ([::1]:8080 for IPv6; port 0 picks a free "
      "one), not '" +
      text + "'";
  monitor_address a;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return error_message{usage};
    a.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return error_message{usage};
    a.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (a.host.empty() || port.empty() || ec != std::errc() || ptr != port.data() + port.size() ||
      value > 65535)
    return error_message{usage};
  a.port = static_cast<uint16_t>(value);
  const std::optional<bool> loopback = is_loopback_address(a.host);
  if (!loopback) {
    return error_message{"--monitor " + text + ": '" + a.host +
                         "' is not a numeric IPv4 or IPv6 address (or localhost)"};
  }
  if (!*loopback && !allow_remote) {
    return error_message{"--monitor " + text + ": " + a.host +
                         " is not a loopback address; the monitor is read-only telemetry without "
                         "authentication, so serving it beyond this machine needs "
                         "--monitor-public (or use 127.0.0.1 and an SSH tunnel)"};
  }
  return a;
}

}  // namespace baffle
