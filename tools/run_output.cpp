// Run folder writers and the terminal progress line.
#include "tools/run_output.hpp"

#include <unistd.h>

#include <csignal>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "actors/checkpoint.hpp"
#include "actors/round_columns.hpp"
#include "models/compute.hpp"
#include "net/atomic_file.hpp"
#include "net/hash.hpp"

#ifndef BAFFLE_VERSION
#define BAFFLE_VERSION "unknown"
#endif
#ifndef BAFFLE_GIT_REVISION
#define BAFFLE_GIT_REVISION "unknown"
#endif

namespace baffle {

namespace fs = std::filesystem;

fs::path choose_run_dir(const std::string& requested, const std::string& name) {
  if (!requested.empty()) return fs::path(requested);
  const fs::path base = fs::path("runs") / name;
  if (!fs::exists(base / "summary.json") && !fs::exists(base / "rounds.csv")) return base;
  for (int i = 2;; ++i) {
    fs::path p = fs::path("runs") / (name + "-" + std::to_string(i));
    if (!fs::exists(p)) return p;
  }
}

bool write_file_atomic(const fs::path& path, const std::string& text) {
  return write_file_atomically(path.string(), text).ok();
}

namespace {
std::string fmt_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}
}  // namespace

std::string scenario_fingerprint(const std::string& resolved_toml) {
  return fmt::format("{:016x}", fnv1a(resolved_toml, digest_basis));
}

result<resume_point> prepare_resume(const fs::path& dir, const std::string& fingerprint) {
  const fs::path file = dir / "checkpoint.bin";
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    return error_message{file.string() +
                         " not found: this run folder has no checkpoint to resume from (checkpoints "
                         "are written every run.checkpoint_every rounds and when a run is stopped "
                         "with Ctrl-C)"};
  }
  const auto bytes = read_file(file.string());
  if (!bytes) return error_message{bytes.error()};
  auto read = read_checkpoint_file(*bytes);
  if (!read) return error_message{file.string() + ": " + read.error()};
  const std::string& written_for = read->fingerprint;
  resume_point p;
  p.rounds_csv_bytes = read->rounds_csv_bytes;
  p.events_bytes = read->events_bytes;
  p.events = read->events;
  p.wall_seconds = read->wall_seconds;
  p.round = read->round;
  p.state = std::move(read->state);
  if (written_for != fingerprint) {
    return error_message{file.string() + " was written for a different scenario than " +
                         (dir / "scenario.toml").string() +
                         " (was it edited?); restore the file or start a new run"};
  }
  const auto cut = [&](const char* name, uint64_t size) -> std::string {
    const fs::path f = dir / name;
    const auto have = fs::file_size(f, ec);
    if (ec || have < size) {
      return f.string() + " is missing or shorter than at the checkpoint (" + std::to_string(size) +
             " bytes); it cannot be continued";
    }
    const auto r = truncate_file(f.string(), size);
    return r ? "" : r.error();
  };
  if (std::string e = cut("rounds.csv", p.rounds_csv_bytes); !e.empty()) return error_message{e};
  if (p.events) {
    if (std::string e = cut("events.log", p.events_bytes); !e.empty()) return error_message{e};
  }
  return p;
}

run_recorder::run_recorder(const fs::path& dir, int64_t total_rounds, bool quiet, bool events,
                           const resume_point* resume)
    : dir_(dir), total_rounds_(total_rounds), quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1) {
  if (const char* fault = std::getenv("BAFFLE_FAULT")) {
    // Test hook (docs/cli.md): "kill@R", "int@R" or "term@R".
    const std::string f = fault;
    const size_t at = f.find('@');
    if (at != std::string::npos) {
      fault_ = f.substr(0, at);
      fault_round_ = std::atoll(f.c_str() + at + 1);
    }
  }
  if (resume != nullptr) {
    wall_offset_ = resume->wall_seconds;
    csv_ = std::fopen((dir / "rounds.csv").c_str(), "a");
    if (events) events_ = std::fopen((dir / "events.log").c_str(), "a");
    start_ = std::chrono::steady_clock::now();
    last_print_ = start_ - std::chrono::seconds(10);
    return;
  }
  csv_ = std::fopen((dir / "rounds.csv").c_str(), "w");
  if (csv_) {
    std::fputs((rounds_csv_header() + "\n").c_str(), csv_);
    std::fflush(csv_);
  }
  if (events) events_ = std::fopen((dir / "events.log").c_str(), "w");
  start_ = std::chrono::steady_clock::now();
  last_print_ = start_ - std::chrono::seconds(10);
}

run_recorder::~run_recorder() {
  if (csv_) std::fclose(csv_);
  if (events_) std::fclose(events_);
}

double run_recorder::wall_seconds() const {
  return wall_offset_ +
         std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void run_recorder::on_checkpoint(int64_t round, std::string state) {
  // The files' lengths now include this round's row and events (written just before).
  if (csv_) std::fflush(csv_);
  if (events_) std::fflush(events_);
  const long csv_bytes = csv_ ? std::ftell(csv_) : 0;
  const long events_bytes = events_ ? std::ftell(events_) : 0;
  checkpoint_file c;
  c.fingerprint = fingerprint_;
  c.rounds_csv_bytes = static_cast<uint64_t>(std::max(0L, csv_bytes));
  c.events_bytes = static_cast<uint64_t>(std::max(0L, events_bytes));
  c.events = events_ != nullptr;
  c.wall_seconds = wall_seconds();
  c.round = round;
  c.state = std::move(state);
  const auto written =
      write_file_atomically((dir_ / "checkpoint.bin").string(), write_checkpoint_file(c));
  if (!written) {
    std::fprintf(stderr, "\nwarning: checkpoint after round %lld not written: %s\n",
                 static_cast<long long>(round), written.error().c_str());
    return;
  }
  last_checkpoint_ = round;
}

void run_recorder::on_round(const round_record& r) {
  const double wall = wall_seconds();
  if (csv_) {
    // One fputs per row: a crash never leaves half a row behind the last flush.
    const std::string row = rounds_csv_row({r, wall}) + "\n";
    std::fputs(row.c_str(), csv_);
    std::fflush(csv_);
    if (r.round == fault_round_ && !fault_.empty()) {
      if (fault_ == "kill") {
        // A crash in the middle of writing the next row.
        std::fputs(row.substr(0, row.size() / 2).c_str(), csv_);
        std::fflush(csv_);
        std::raise(SIGKILL);
      }
      if (fault_ == "int" || fault_ == "term") {
        std::raise(fault_ == "int" ? SIGINT : SIGTERM);
        if (fault_wait_) fault_wait_();
      }
    }
  }
  if (r.test_acc) {
    last_eval_ = fmt::format(" test_acc {:.4f}", *r.test_acc);
    last_evaluation_ = r;
  }
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const bool last = r.round >= total_rounds_;
  const double eta =
      wall / static_cast<double>(r.round) * static_cast<double>(total_rounds_ - r.round);
  const std::string line = fmt::format(
      "round {}/{}  train_loss {:.4f}{}  sim {:.1f}s  wall {}  eta {}", r.round, total_rounds_,
      r.train_loss, last_eval_, r.end_time.seconds(), fmt_duration(wall), fmt_duration(eta));
  if (tty_) {
    if (last || now - last_print_ >= std::chrono::milliseconds(200)) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
      last_print_ = now;
    }
  } else {
    const int64_t step = std::max<int64_t>(1, total_rounds_ / 20);
    if (last || r.round % step == 0) std::fprintf(stderr, "%s\n", line.c_str());
  }
}

void run_recorder::on_clients(const std::vector<client_record>& clients) {
  const size_t classes = clients.empty() ? 0 : clients.front().labels.size();
  std::string text =
      "client,shard_size,gflops,uplink_latency_s,downlink_latency_s,selected,participated,dropped,"
      "late,mean_staleness,compute_s,link_s";
  for (size_t k = 0; k < classes; ++k) text += fmt::format(",label_{}", k);
  text += "\n";
  for (const auto& c : clients) {
    const double mean_staleness =
        c.participated > 0 ? static_cast<double>(c.staleness_sum) / c.participated : 0.0;
    text += fmt::format("{},{},{:.6g},{:.9f},{:.9f},{},{},{},{},{:.4f},{:.9f},{:.9f}", c.client,
                        c.shard_size, c.gflops, c.uplink_latency.seconds(),
                        c.downlink_latency.seconds(), c.selected, c.participated, c.dropped, c.late,
                        mean_staleness, c.compute_time.seconds(), c.link_time.seconds());
    for (int64_t n : c.labels) text += fmt::format(",{}", n);
    text += "\n";
  }
  if (!write_file_atomic(dir_ / "clients.csv", text))
    std::fprintf(stderr, "warning: cannot write %s\n", (dir_ / "clients.csv").c_str());
}

namespace {

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

void run_recorder::on_nodes(const std::vector<node_record>& nodes) {
  std::string text = "node,host,threads,joined,left,reason,tasks_done\n";
  for (const node_record& n : nodes)
    text += fmt::format("{},{},{},{},{},{},{}\n", n.node, csv_field(n.host), n.threads, n.joined,
                        n.left ? std::to_string(*n.left) : "", csv_field(n.reason), n.tasks_done);
  if (!write_file_atomic(dir_ / "nodes.csv", text))
    std::fprintf(stderr, "warning: cannot write %s\n", (dir_ / "nodes.csv").c_str());
}

void run_recorder::on_log(const std::string& line) {
  // On its own line, even in the middle of a live progress line.
  std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", line.c_str());
  std::fflush(stderr);
}

void run_recorder::on_events(const std::vector<event_record>& events) {
  if (!events_) return;
  std::string text;
  for (const auto& e : events) text += format_event(e) + "\n";
  std::fputs(text.c_str(), events_);  // one write per round, flushed with it
  std::fflush(events_);
}

void run_recorder::finish() {
  if (!quiet_ && tty_) std::fprintf(stderr, "\n");
}

std::string summary_json(const scenario& sc, const run_outcome& o, double wall_time_s,
                         const round_record* final_round) {
  nlohmann::ordered_json j;
  j["name"] = sc.name;
  j["seed"] = sc.seed;
  j["final_test_acc"] = o.final_test_acc;
  j["final_test_loss"] = o.final_test_loss;
  if (final_round != nullptr && final_round->round == o.rounds) {
    const round_record& r = *final_round;
    if (r.test_acc_raw) j["final_test_acc_raw"] = *r.test_acc_raw;
    if (r.test_loss_raw) j["final_test_loss_raw"] = *r.test_loss_raw;
    if (r.test_acc_lowp) j["final_test_acc_lowp"] = *r.test_acc_lowp;
    if (r.test_loss_lowp) j["final_test_loss_lowp"] = *r.test_loss_lowp;
  }
  j["rounds"] = o.rounds;
  j["sim_time_s"] = o.sim_time_s;
  j["wall_time_s"] = wall_time_s;
  j["bytes_up_total"] = o.bytes_up_total;
  j["bytes_down_total"] = o.bytes_down_total;
  j["node_bytes_total"] = o.node_bytes_total;
  j["forward_passes_total"] = o.forward_passes_total;
  j["model_digest"] = o.model_digest;
  // bf16 and int8 digests are reproducible on one oneDNN ISA, not across ISAs: say which ran.
  j["precision"] = name_of(sc.model.precision);
  j["onednn_isa"] = onednn_isa();
  j["version"] = BAFFLE_VERSION;
  j["git_revision"] = BAFFLE_GIT_REVISION;
  return j.dump(2) + "\n";
}

}  // namespace baffle
