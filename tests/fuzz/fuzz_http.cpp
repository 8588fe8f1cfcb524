// Fuzz target: the live monitor's request handling. The input is what a client sends on one
// connection; answer_bytes (net/http_server.hpp) parses it with Beast's parser and answers each
// request exactly as a connection of the server does, here routed to a run_view with a few rounds
// as the monitor routes a run. Every answer must be a well-formed response with one of the status
// codes the monitor documents (a 500 means a handler threw), and every JSON body must parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actors/run_view.hpp"
#include "net/http_server.hpp"
#include "tests/fuzz/seeds.hpp"

namespace baffle {
namespace {

/// Smaller than the monitor's so short inputs reach the 431 and 413 answers.
const http_limits limits{.max_header_bytes = 1024, .max_body_bytes = 64};

/// A run as the monitor would hold it mid-way: rounds with and without evaluations, a diverged
/// loss, events for some clients, and a name that needs escaping in JSON and Prometheus labels.
run_view make_view() {
  monitor_run_info info;
  info.name = "fuzz \"run\"\\\n<b>";
  info.policy = "async";
  info.algorithm = "baffle";
  info.total_rounds = 10;
  info.clients = 5;
  info.nodes = 2;
  info.async = true;
  info.node_hosts = {"in-process", "worker-1"};
  run_view v(info);
  for (int64_t r = 1; r <= 5; ++r) {
    round_record rec;
    rec.round = r;
    rec.end_time = sim_time::from_ms(250 * r);
    rec.train_loss =
        r == 4 ? std::numeric_limits<double>::infinity() : 2.0 / static_cast<double>(r);
    if (r % 2 == 0) {
      rec.test_acc = 0.1 * static_cast<double>(r);
      rec.test_loss = 1.0 / static_cast<double>(r);
    }
    rec.selected = 3;
    rec.participants = 2;
    rec.dropped = 1;
    rec.stale_mean = 0.5;
    rec.stale_max = 1;
    rec.bytes_up = 100 * static_cast<uint64_t>(r);
    rec.bytes_down = 1000;
    rec.forward_passes = 34;
    v.add_round({rec, 0.1 * static_cast<double>(r)});
  }
  std::vector<event_record> events(3);
  events[0].client = 1;
  events[0].what = event_record::kind::arrive;
  events[1].client = 4;
  events[1].what = event_record::kind::dropout;
  events[2].client = 7;  // beyond the fleet: ignored
  events[2].what = event_record::kind::late;
  v.add_events(events);
  return v;
}

const run_view& view() {
  static const run_view v = make_view();
  return v;
}

/// The monitor's routing of a single run (actors/monitor.cpp): the view answers the path below
/// '/', which http_server guarantees is there.
http_response route(const http_request& req) {
  if (req.path.empty() || req.path.front() != '/') std::abort();
  return view().serve(std::string_view(req.path).substr(1), req);
}

bool documented(int status) {
  for (int s : {200, 400, 404, 405, 413, 431})
    if (s == status) return true;
  return false;
}

/// Checks one answer at the front of `sent` (status line, headers, a body of Content-Length
/// bytes) and removes it.
void check_answer(std::string_view& sent, int status) {
  const std::string line = "HTTP/1.1 " + std::to_string(status) + " ";
  const std::string line10 = "HTTP/1.0 " + std::to_string(status) + " ";
  if (sent.substr(0, line.size()) != line && sent.substr(0, line10.size()) != line10) std::abort();
  const size_t end = sent.find("\r\n\r\n");
  if (end == std::string_view::npos) std::abort();
  const std::string_view head = sent.substr(0, end + 2);
  const size_t at = head.find("\r\nContent-Length: ");
  if (at == std::string_view::npos) std::abort();
  const size_t length = std::strtoull(head.data() + at + 18, nullptr, 10);
  if (end + 4 + length > sent.size()) std::abort();
  const std::string_view body = sent.substr(end + 4, length);
  if (status == 200 &&
      head.find("\r\nContent-Type: application/json\r\n") != std::string_view::npos &&
      !nlohmann::json::accept(body))
    std::abort();
  sent.remove_prefix(end + 4 + length);
}

void write_seeds() {
  const auto get = [](std::string_view target, std::string_view extra = {}) {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(extra) +
           "\r\n";
  };
  fuzz::write_seed("index", get("/"));
  fuzz::write_seed("index-html", get("/index.html"));
  fuzz::write_seed("status", get("/status"));
  fuzz::write_seed("rounds-since-3", get("/rounds?since=3"));
  fuzz::write_seed("rounds-bad-since", get("/rounds?since=-1&x=%41+b"));
  fuzz::write_seed("clients", get("/clients"));
  fuzz::write_seed("metrics", get("/metrics", "Accept: text/plain\r\n"));
  fuzz::write_seed("sweep-index", get("/points/k-20/status"));
  fuzz::write_seed("sweep-point", get("/points/k-20"));
  fuzz::write_seed("not-found", get("/nothing%2Fhere"));
  fuzz::write_seed("pipelined", get("/status") + get("/rounds?since=0") + get("/metrics"));
  fuzz::write_seed("http10", "GET /status HTTP/1.0\r\n\r\n");
  fuzz::write_seed("close", get("/clients", "Connection: close\r\n") + get("/status"));
  fuzz::write_seed("post", "POST /status HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  fuzz::write_seed("body-too-large",
                   "GET / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'));
  fuzz::write_seed(
      "chunked", "GET /status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  fuzz::write_seed("headers-too-large", get("/", "X: " + std::string(1100, 'a') + "\r\n"));
  fuzz::write_seed("asterisk", "OPTIONS * HTTP/1.1\r\n\r\n");
  fuzz::write_seed("absolute-form", get("http://127.0.0.1/status"));
  fuzz::write_seed("query-only", get("?since=3"));
  fuzz::write_seed("malformed-version", "GET / HTTP/9\r\n\r\n");
  fuzz::write_seed("unfinished", "GET /status HTTP/1.1\r\nHost: x");
  fuzz::write_seed("bad-header", "GET / HTTP/1.1\r\nNo colon here\r\n\r\n");
}

}  // namespace
}  // namespace baffle

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (baffle::fuzz::seed_folder() != nullptr) {
    baffle::write_seeds();
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace baffle;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const http_exchange out = answer_bytes(bytes, route, limits);
  std::string_view sent = out.sent;
  for (int status : out.status) {
    if (!documented(status)) std::abort();
    check_answer(sent, status);
  }
  if (!sent.empty()) std::abort();
  // The server's own refusals end the connection (a 400 may also be the handler's answer).
  if (!out.status.empty() && !out.closed) {
    const int last = out.status.back();
    if (last == 405 || last == 413 || last == 431) std::abort();
  }
  return 0;
}
