// The run and resume commands over run_simulation and the run folder writers.
#include "tools/run_command.hpp"

#include <csignal>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "actors/round_columns.hpp"
#include "actors/runtime.hpp"
#include "models/compute.hpp"
#include "net/stop_signal.hpp"
#include "scenarios/loader.hpp"
#include "tools/exit_codes.hpp"
#include "tools/run_output.hpp"

namespace baffle {

namespace fs = std::filesystem;

std::optional<scenario> load_or_report(const std::string& path,
                                       const std::vector<std::string>& sets) {
  auto res = load_scenario(path, sets);
  if (!res.ok()) {
    for (const auto& e : res.errors) std::cerr << "error: " << e.to_string() << "\n";
    std::cerr << res.errors.size() << " error(s) in " << path << "; nothing was run or written\n";
    return std::nullopt;
  }
  return std::move(*res.value);
}

namespace {

/// The rows of a resumed run's rounds.csv (already cut back to its checkpoint), for the monitor.
std::vector<round_row> rows_so_far(const fs::path& csv) {
  std::vector<round_row> rows;
  std::ifstream in(csv);
  std::string line;
  while (std::getline(in, line)) {
    if (auto row = parse_rounds_csv_row(line)) rows.push_back(*row);
  }
  return rows;
}

}  // namespace

int run_command(const run_request& req) {
  const bool resuming = !req.resume_dir.empty();
  const std::string path =
      resuming ? (fs::path(req.resume_dir) / "scenario.toml").string() : req.scenario_path;
  if (resuming && !fs::is_directory(req.resume_dir)) {
    std::cerr << "error: --resume " << req.resume_dir << ": no such run folder\n";
    return exit_code::bad_input;
  }
  if (resuming && !fs::exists(path)) {
    std::cerr << "error: --resume " << req.resume_dir
              << ": no scenario.toml there; is it a run folder written by baffle run?\n";
    return exit_code::bad_input;
  }
  // The monitor binds first: a bad or taken address is an error before anything is written.
  std::unique_ptr<monitor> mon;
  if (!start_monitor(req.monitor, mon)) return exit_code::bad_input;
  auto sc = load_or_report(path, req.sets);
  if (!sc) return exit_code::bad_input;
  const int local_nodes = req.serve       ? (req.serve->local ? 1 : 0)
                          : req.nodes > 0 ? req.nodes
                                          : sc->run.nodes;
  // serve: --workers, or the scenario's run.workers.
  std::optional<serve_request> serve_req = req.serve;
  if (serve_req && serve_req->workers <= 0) serve_req->workers = sc->run.workers;
  const int nodes = local_nodes + (serve_req ? serve_req->workers : 0);
  const fs::path dir = resuming ? fs::path(req.resume_dir) : choose_run_dir(req.out, sc->name);
  if (resuming && fs::exists(dir / "summary.json")) {
    std::cerr << "error: --resume " << dir.string()
              << ": this run already finished (summary.json exists); nothing to continue\n";
    return exit_code::bad_input;
  }
  const std::string resolved = to_toml(*sc);
  std::optional<resume_point> resume;
  if (resuming) {
    auto p = prepare_resume(dir, scenario_fingerprint(resolved));
    if (!p) {
      std::cerr << "error: --resume: " << p.error() << "\n";
      return exit_code::bad_input;
    }
    resume = std::move(*p);
  }
  if (mon) {
    mon->begin_run(run_info_of(*sc, nodes), resume ? resume->wall_seconds : 0.0,
                   resume ? rows_so_far(dir / "rounds.csv") : std::vector<round_row>{});
  }
  auto w = build_world(*sc);
  if (!w) {
    std::cerr << "error: " << path << ": " << w.error() << "\nnothing was run or written\n";
    return exit_code::of(w.failure().kind);
  }
  if (req.serve) {
    if (auto tls = check_tls(req.serve->tls); !tls) {
      std::cerr << "error: " << tls.error() << "; nothing was run or written\n";
      return exit_code::bad_input;
    }
  }
  runtime rt(req.serve ? network_options(req.threads, req.serve->peer_timeout_s, req.serve->tls)
                       : runtime::options{req.threads, false});
  std::optional<serving> served;
  if (req.serve) {
    auto s = start_serving(rt, *serve_req, resolved, **w);
    if (!s) {
      std::cerr << "error: " << s.error() << "; nothing was run or written\n";
      return exit_code::bad_input;
    }
    served = std::move(*s);
  }
  if (!resuming) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      std::cerr << "error: cannot create run folder " << dir << ": " << ec.message() << "\n";
      return exit_code::failed;
    }
    if (!write_file_atomic(dir / "scenario.toml", resolved)) {
      std::cerr << "error: cannot write " << (dir / "scenario.toml") << "\n";
      return exit_code::failed;
    }
  }
  const int64_t rounds = sc->train.rounds;
  if (!req.quiet) {
    const bool async = sc->server.policy == policy_kind::async;
    std::cerr << "baffle run " << sc->name << ": " << (*w)->net->describe() << ", "
              << sc->clients.count << " clients ("
              << (async ? std::to_string(sc->server.concurrency) + " in flight"
                        : std::to_string(sc->clients.per_round) + " per round")
              << "), K = " << sc->baffle.k << ", " << rounds << (async ? " updates, " : " rounds, ")
              << req.threads << " thread(s)"
              << (nodes > 1 ? ", " + std::to_string(nodes) + " nodes" : "") << " -> "
              << dir.string() << "\n";
    if (resume)
      std::cerr << "resuming after round " << resume->round << " (checkpoint.bin)\n";
  }
  // Always said, quiet or not: the digest of a low-precision run is that of this ISA.
  if (sc->model.precision != forward_precision::f32 && !onednn_native(sc->model.precision)) {
    std::cerr << "note: oneDNN runs " << name_of(sc->model.precision) << " forwards on "
              << onednn_isa() << " without native " << name_of(sc->model.precision)
              << " instructions (emulated, often slower than f32); results are this ISA's\n";
  }
  const bool events = resume ? resume->events : req.events;
  run_recorder rec(dir, rounds, req.quiet, events, resume ? &*resume : nullptr);
  if (!rec.ok()) {
    std::cerr << "error: cannot write " << (dir / "rounds.csv") << "\n";
    return exit_code::failed;
  }
  rec.set_fingerprint(scenario_fingerprint(resolved));

  // The first SIGINT/SIGTERM stops after the current round with a checkpoint; a second one
  // stops at once (stop_signals exits the process).
  stop_signals signals(req.quiet ? stop_signals::callback{}
                                 : stop_signals::announce(
                                       "\nstopping after the current round (writing a checkpoint); "
                                       "press Ctrl-C again to stop at once\n"));
  rec.set_fault_wait([&signals] { signals.wait_for_stop(std::chrono::seconds(10)); });
  run_options opt{req.threads};
  opt.nodes = local_nodes;
  if (served) {
    if (!req.quiet)
      std::cerr << "waiting for " << serve_req->workers << " worker(s): baffle worker --connect "
                << served->host << ":" << served->port << std::endl;
    joined_workers joined = wait_for_workers(rt, *served);
    opt.remote_nodes = std::move(joined.nodes);
    // Clients are dealt in proportion to each node's threads (docs/distributed.md).
    opt.local_capacity = static_cast<uint32_t>(std::max(1, req.threads));
    for (size_t i = 0; i < opt.remote_nodes.size(); ++i) {
      node_record r;
      r.node = static_cast<uint32_t>(local_nodes + i);
      r.host = i < joined.hosts.size() ? joined.hosts[i] : "remote";
      r.threads = i < joined.threads.size() ? joined.threads[i] : 1;
      opt.remote_info.push_back(r);
    }
    opt.registry = caf::actor_cast<caf::actor_addr>(served->registry);
    opt.on_server = [registry = served->registry](const server_actor& server) {
      caf::anon_send(registry, attach_atom::value, server);
    };
    if (mon) {
      std::vector<std::string> hosts(static_cast<size_t>(local_nodes), "in-process");
      hosts.insert(hosts.end(), joined.hosts.begin(), joined.hosts.end());
      mon->set_node_hosts(std::move(hosts));
    }
  }
  opt.stop_requested = [&signals] { return signals.stop_requested(); };
  if (resume) opt.resume_state = std::move(resume->state);
  rt.attach(&rec);
  if (mon) rt.attach(mon.get());
  const run_outcome o = rt.run(*w, opt);
  rec.finish();
  if (!o.error.empty()) {
    std::cerr << "error: the run failed: " << o.error << "\n";
    if (mon) mon->end_run(run_state::failed, o.error);
    linger_and_stop(mon, req.monitor, signals);
    return exit_code::of(o.error_class);
  }
  if (o.stopped) {
    if (mon) mon->end_run(run_state::stopped, "stopped after a checkpoint");
    linger_and_stop(mon, req.monitor, signals);
    std::cerr << "stopped after round " << o.rounds << " of " << rounds
              << "; checkpoint written. Continue with:\n  baffle run --resume " << dir.string()
              << "\n";
    const int signo = signals.signal_number();
    return 128 + (signo > 0 ? signo : SIGINT);
  }
  const double wall = rec.wall_seconds();
  if (!write_file_atomic(dir / "summary.json", summary_json(*sc, o, wall, rec.last_evaluation()))) {
    std::cerr << "error: cannot write " << (dir / "summary.json") << "\n";
    return exit_code::failed;
  }
  // The monitor shows the run as finished before the last line says so (a reader of that line,
  // a script or a test, then always sees the final state).
  if (mon) {
    mon->end_run(run_state::finished);
    mon->sync();
  }
  std::printf("%s: final_test_acc %.4f after %lld rounds, sim_time %.1fs, wall %.1fs, digest %s\n",
              dir.c_str(), o.final_test_acc, static_cast<long long>(o.rounds), o.sim_time_s, wall,
              o.model_digest.c_str());
  std::fflush(stdout);
  linger_and_stop(mon, req.monitor, signals);
  return 0;
}

}  // namespace baffle
