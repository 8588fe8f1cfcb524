// The baffle command line: run, check and sweep scenarios, and benchmark forward passes. The only
// TU that includes CLI11.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>

#include "actors/run.hpp"
#include "scenarios/loader.hpp"
#include "scenarios/schema.hpp"
#include "tools/bench_command.hpp"
#include "tools/cluster_command.hpp"
#include "tools/exit_codes.hpp"
#include "tools/monitor_option.hpp"
#include "tools/run_command.hpp"
#include "tools/run_output.hpp"
#include "tools/sweep.hpp"

namespace fs = std::filesystem;
using namespace baffle;

namespace {

/// An option that takes the scenario file's words for enum E (its name table): the name becomes
/// the enum's number for CLI11, and anything else is refused with the list of names.
template <class E>
CLI::Validator enum_names_option(const std::string& what) {
  std::string list;
  const auto names = names_of<E>();
  for (size_t i = 0; i < names.size(); ++i)
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + std::string(names[i]);
  return CLI::Validator(
      [what, list](std::string& text) -> std::string {
        const std::optional<E> v = parse_name<E>(text);
        if (!v) return "'" + text + "' is not " + what + "; use " + list;
        text = std::to_string(static_cast<int>(*v));
        return "";
      },
      list);
}

/// --monitor, --monitor-public and --monitor-linger (see tools/monitor_option.hpp).
void add_monitor_options(CLI::App* cmd, monitor_request& req, const std::string& what) {
  auto* address = cmd->add_option(
      "--monitor", req.address,
      "Serve a live monitor of the " + what +
          " over HTTP at HOST:PORT (port 0 picks a free one; the URL is printed as 'monitor: "
          "http://HOST:PORT/'): a dashboard page, /status, /rounds?since=N, /clients and "
          "Prometheus /metrics; see docs/monitor.md");
  cmd->add_flag("--monitor-public", req.allow_public,
                "Allow a --monitor address that is not loopback (read-only telemetry with no "
                "authentication: anyone who can reach the port can read it)")
      ->needs(address);
  cmd->add_option("--monitor-linger", req.linger_s,
                  "After the " + what +
                      " ends, keep serving its final state for this many seconds (Ctrl-C "
                      "ends it early; default 0)")
      ->check(CLI::NonNegativeNumber)
      ->needs(address);
}

int cmd_check(const std::string& path, const std::vector<std::string>& sets) {
  auto sc = load_or_report(path, sets);
  if (!sc) return exit_code::bad_input;
  const bool async = sc->server.policy == policy_kind::async;
  std::cout << path << ": ok (" << sc->name << ": " << sc->train.rounds
            << (async ? " updates, " : " rounds, ") << sc->clients.count << " clients, "
            << (async ? std::to_string(sc->server.concurrency) + " in flight"
                      : std::to_string(sc->clients.per_round) + " per round")
            << ", K = " << sc->baffle.k << ", policy " << name_of(sc->server.policy) << ")\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "baffle: simulate backpropagation-free federated learning (BAFFLE) with CAF actors in "
      "virtual time.\nSee docs/cli.md and docs/scenarios.md."};
  app.require_subcommand(1);
  app.footer(
      "\nExamples:\n"
      "  baffle run scenarios/quickstart.toml --threads 2 --out runs/q --set train.rounds=300\n"
      "  baffle check my-scenario.toml --set baffle.k=200\n"
      "  baffle schema --markdown   (every scenario key: type, default, allowed values)\n"
      "  baffle bench forward --model lenet --threads 2   (one JSON object on stdout)\n"
      "Run options: --out DIR, --threads N, --set KEY=VALUE (repeatable), --quiet, --events,\n"
      "--monitor 127.0.0.1:PORT (a live dashboard and Prometheus metrics; docs/monitor.md);\n"
      "baffle run --resume DIR continues a run stopped with Ctrl-C or killed (from its last\n"
      "checkpoint); see 'baffle run --help'.\n"
      "Benchmarks: baffle bench forward|estimator --model lenet|mlp|wrn [--batch B] [--threads N]\n"
      "[--k K] [--seconds S] [--precision f32|bf16|int8]; baffle bench scale [--clients N]\n"
      "[--per-round M] [--k K] [--rounds R]; see 'baffle bench forward --help' and docs/cli.md.\n"
      "Exit codes: 0 ok, 2 bad input (nothing written), 1 I/O error, 130/143 stopped by\n"
      "SIGINT/SIGTERM after a checkpoint.");

  run_request run_req;
  run_req.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  auto* run = app.add_subcommand("run",
                                 "Run a scenario and write rounds.csv, summary.json and "
                                 "scenario.toml into a run folder");
  auto* scenario_opt = run->add_option("scenario", run_req.scenario_path, "Scenario file (TOML)");
  auto* resume_opt = run->add_option(
      "--resume", run_req.resume_dir,
      "Continue the interrupted run in this folder from its checkpoint.bin (no scenario or --set: "
      "the folder's scenario.toml is the run)");
  auto* out_opt = run->add_option("--out,-o", run_req.out,
                  "Run folder (default: runs/<name>, or runs/<name>-N if that holds a run)");
  run->add_option("--threads,-j", run_req.threads,
                  "Compute threads; results are identical for any value (default: all cores)")
      ->check(CLI::Range(1, 256));
  run->add_option("--nodes", run_req.nodes,
                  "In-process nodes, each holding its own model replica kept in step by the "
                  "server's updates and the clients c with c mod N = its index; results are "
                  "identical for any value (default: the scenario's run.nodes, 1)")
      ->check(CLI::Range(1, 256));
  auto* set_opt = run->add_option(
      "--set", run_req.sets, "Override a scenario key, e.g. --set train.rounds=20 (repeatable; dotted keys)");
  resume_opt->excludes(scenario_opt)->excludes(set_opt)->excludes(out_opt);
  run->add_flag("--quiet,-q", run_req.quiet, "No progress output");
  run->add_flag("--events", run_req.events,
                "Also write events.log: one line per event (round start, dispatch, dropout, "
                "arrival, late result, aggregation) stamped with virtual time, round and client");
  add_monitor_options(run, run_req.monitor, "run");

  // serve: a run whose nodes are worker processes (docs/distributed.md).
  run_request serve_req;
  serve_req.threads = run_req.threads;
  serve_request serve_opt;
  int serve_local = 1;
  auto* serve = app.add_subcommand(
      "serve",
      "Run a scenario as 'baffle run' does, with worker processes (baffle worker) as its "
      "nodes: same outputs, same results (docs/distributed.md)");
  auto* serve_scenario =
      serve->add_option("scenario", serve_req.scenario_path, "Scenario file (TOML)");
  auto* serve_resume = serve->add_option(
      "--resume", serve_req.resume_dir,
      "Continue the interrupted served run in this folder from its checkpoint.bin");
  auto* serve_out = serve->add_option("--out,-o", serve_req.out, "Run folder (as for run)");
  auto* serve_set =
      serve->add_option("--set", serve_req.sets, "Override a scenario key (as for run)");
  serve_resume->excludes(serve_scenario)->excludes(serve_set)->excludes(serve_out);
  serve->add_option("--listen", serve_opt.listen,
                    "HOST:PORT to take workers on (default 127.0.0.1:0, a free port; the line "
                    "'listening on HOST:PORT' on stdout says which). Other than loopback needs "
                    "--secret-file or TLS");
  serve
      ->add_option("--workers", serve_opt.workers,
                   "Worker processes the run waits for before it starts (default: the scenario's "
                   "run.workers, 1); more may join while it runs and take clients from the next "
                   "round")
      ->check(CLI::Range(1, 256));
  auto* serve_local_option =
      serve
          ->add_option("--local", serve_local,
                       "Also compute on a node in this process (node 0): 1 (default) or 0")
          ->check(CLI::Range(0, 1));
  bool serve_no_local = false;
  serve->add_flag("--no-local", serve_no_local, "Same as --local 0: only workers compute")
      ->excludes(serve_local_option);
  serve->add_option("--secret-file", serve_opt.secret_file,
                    "A file holding a shared secret every worker must prove it holds "
                    "(HMAC of a one-time challenge; the secret never travels)");
  const auto add_tls_options = [](CLI::App* command, tls_files& tls, const std::string& peer) {
    command->add_option("--tls-cert", tls.certificate,
                        "TLS (CAF's OpenSSL module): this process's certificate, PEM");
    command->add_option("--tls-key", tls.key, "TLS: this process's private key, PEM");
    command->add_option(
        "--tls-ca", tls.ca,
        "TLS: the CA certificate (PEM) that must have signed every " + peer + "'s certificate");
  };
  add_tls_options(serve, serve_opt.tls, "worker");
  serve
      ->add_option("--peer-timeout", serve_opt.peer_timeout_s,
                   "Seconds without a sign of life (heartbeats) after which a worker is lost and "
                   "its clients move to the other nodes (default 10)")
      ->check(CLI::Range(0.5, 3600.0));
  serve
      ->add_option("--threads,-j", serve_req.threads,
                   "Threads of this process (its local node and the server)")
      ->check(CLI::Range(1, 256));
  serve->add_flag("--quiet,-q", serve_req.quiet, "No progress output");
  serve->add_flag("--events", serve_req.events, "Also write events.log (as for run)");
  add_monitor_options(serve, serve_req.monitor, "serve");

  worker_request worker_req;
  worker_req.threads = run_req.threads;
  auto* worker =
      app.add_subcommand("worker", "Offer this process's cores as a node to a run of baffle serve");
  worker->add_option("--connect", worker_req.connect, "HOST:PORT of baffle serve")->required();
  worker->add_option("--threads,-j", worker_req.threads, "Compute threads (default: all cores)")
      ->check(CLI::Range(1, 256));
  worker->add_option("--secret-file", worker_req.secret_file,
                     "The shared secret's file, when the server demands one");
  add_tls_options(worker, worker_req.tls, "server");
  worker
      ->add_option("--peer-timeout", worker_req.peer_timeout_s,
                   "Seconds without a sign of life from the server after which the worker stops "
                   "(default 10)")
      ->check(CLI::Range(0.5, 3600.0));

  std::string check_path;
  std::vector<std::string> check_sets;
  auto* check =
      app.add_subcommand("check", "Validate a scenario without running it (exit 2 on errors)");
  check->add_option("scenario", check_path, "Scenario file (TOML)")->required();
  check->add_option("--set", check_sets, "Override a scenario key (as for run)");

  sweep_options sweep_opt;
  auto* sweep = app.add_subcommand(
      "sweep",
      "Run a scenario at every point of a grid of overrides, each in its own folder, and write "
      "index.csv");
  sweep->add_option("scenario", sweep_opt.scenario_path, "Scenario file (TOML)")->required();
  sweep
      ->add_option("--grid,-g", sweep_opt.grids,
                   "Sweep a key over values, e.g. --grid baffle.k=20,50,100 (repeatable: the "
                   "cartesian product; commas inside [] {} or quotes do not split)")
      ->required();
  sweep->add_option("--set", sweep_opt.sets,
                    "Override a scenario key at every point (as for run; repeatable)");
  sweep->add_option("--out,-o", sweep_opt.out,
                    "Sweep folder (default: runs/<name>-sweep, or -sweep-N if that is not empty)");
  sweep->add_option("--jobs", sweep_opt.jobs, "Points run at once (default: 1)")
      ->check(CLI::Range(1, 256));
  sweep
      ->add_option("--threads-per-job", sweep_opt.threads_per_job,
                   "Threads of each run (default: all cores / jobs, at least 1)")
      ->check(CLI::Range(1, 256));
  sweep->add_flag("--quiet,-q", sweep_opt.quiet, "No progress lines (failures are still shown)");
  add_monitor_options(sweep, sweep_opt.monitor, "sweep");

  bench_options bench_fwd;
  bench_options bench_est;
  auto* bench = app.add_subcommand(
      "bench",
      "Benchmark forward passes, the BAFFLE estimator and a 100,000-client federation on this "
      "machine (JSON on stdout)");
  bench->require_subcommand(1);
  auto* bench_forward_cmd = bench->add_subcommand(
      "forward",
      "Time forward passes of a model on real images: ms per forward, forwards/s, GFLOP/s and the "
      "fraction of a measured FMA peak");
  bench_forward_cmd->add_option("--model,-m", bench_fwd.model, "Network to time")
      ->transform(enum_names_option<arch_kind>("a model"))
      ->required();
  bench_forward_cmd->add_option("--batch,-b", bench_fwd.batch, "Examples per forward")
      ->capture_default_str();
  bench_forward_cmd
      ->add_option("--threads,-j", bench_fwd.threads,
                   "Threads, each running its own forwards concurrently")
      ->capture_default_str();
  bench_forward_cmd->add_option("--k", bench_fwd.k, "Forwards per thread per timed block")
      ->capture_default_str();
  bench_forward_cmd
      ->add_option("--seconds", bench_fwd.seconds, "Time spent on the repeated timed blocks")
      ->capture_default_str();
  bench_forward_cmd
      ->add_option("--data", bench_fwd.data,
                   "MNIST-format folder (seeded synthetic images if it cannot be loaded)")
      ->capture_default_str();
  bench_forward_cmd
      ->add_option("--precision", bench_fwd.precision,
                   "Forward precision (bf16 and int8 also time f32 on one thread for the ratio)")
      ->transform(enum_names_option<forward_precision>("a precision"))
      ->default_str("f32");
  auto* bench_estimator_cmd = bench->add_subcommand(
      "estimator",
      "Time a BAFFLE client step with K perturbations, the reconstruction and normal generation, "
      "and compare the estimate with backprop's gradient");
  bench_estimator_cmd->add_option("--model,-m", bench_est.model, "Network of the estimate")
      ->transform(enum_names_option<arch_kind>("a model"))
      ->required();
  bench_estimator_cmd->add_option("--k", bench_est.k, "Perturbations K")->capture_default_str();
  bench_estimator_cmd->add_option("--batch,-b", bench_est.batch, "Examples per forward")
      ->capture_default_str();
  bench_estimator_cmd
      ->add_option("--threads,-j", bench_est.threads,
                   "Threads of the client step and the reconstruction")
      ->capture_default_str();
  bench_estimator_cmd
      ->add_option("--seconds", bench_est.seconds,
                   "Timing budget: each timed quantity repeats for a quarter of it")
      ->capture_default_str();
  bench_estimator_cmd
      ->add_option("--data", bench_est.data,
                   "MNIST-format folder (seeded synthetic images if it cannot be loaded)")
      ->capture_default_str();
  bench_estimator_cmd
      ->add_option("--distribution", bench_est.estimator.distribution,
                   "Entries of the directions, as baffle.distribution (default gaussian)")
      ->transform(enum_names_option<direction_distribution>("a distribution"));
  bench_estimator_cmd->add_flag("--orthogonal", bench_est.estimator.orthogonal,
                                "Orthonormalise the K directions, as baffle.orthogonal");
  bench_estimator_cmd
      ->add_option("--baseline", bench_est.estimator.baseline,
                   "Control variate on the K differences, as baffle.baseline (default none)")
      ->transform(enum_names_option<loss_baseline>("a baseline"));
  bench_estimator_cmd
      ->add_option("--sparsity", bench_est.estimator.sparsity,
                   "Fraction of the parameters perturbed, as baffle.sparsity")
      ->capture_default_str();
  bench_estimator_cmd
      ->add_option("--precision", bench_est.precision,
                   "Precision of the clients' forwards (f32 forwards are timed too for the ratio)")
      ->transform(enum_names_option<forward_precision>("a precision"))
      ->default_str("f32");
  bench_estimator_cmd
      ->add_option("--sigma", bench_est.sigma, "Perturbation scale (0 = the scenario default)")
      ->capture_default_str();

  bool schema_markdown_out = false;
  bool schema_json_out = false;
  auto* schema = app.add_subcommand(
      "schema",
      "Print the scenario schema: every key with its type, unit, default, allowed values and "
      "when it applies (the key tables of docs/scenarios.md, or JSON for editors and scripts)");
  auto* md_flag = schema->add_flag("--markdown", schema_markdown_out,
                                   "The key tables of docs/scenarios.md (the default)");
  schema->add_flag("--json", schema_json_out, "The whole schema and the cross-key rules as JSON")
      ->excludes(md_flag);

  scale_options bench_sc;
  auto* bench_scale_cmd = bench->add_subcommand(
      "scale",
      "Run a federation of many clients (default 100,000, 1,000 per round, K = 10, a tiny MLP on "
      "synthetic data) through the real actor path: client updates per second, peak RSS and "
      "bytes per idle client");
  bench_scale_cmd->add_option("--clients", bench_sc.clients, "Client actors spawned")
      ->capture_default_str();
  bench_scale_cmd->add_option("--per-round", bench_sc.per_round, "Clients selected per round")
      ->capture_default_str();
  bench_scale_cmd->add_option("--k", bench_sc.k, "Perturbations K per client")
      ->capture_default_str();
  bench_scale_cmd
      ->add_option("--rounds", bench_sc.rounds,
                   "Rounds run (at least 2); rounds 2.. are timed, round 1 also spawns the actors")
      ->capture_default_str();
  bench_scale_cmd->add_option("--threads,-j", bench_sc.threads,
                              "TBB arena and CAF scheduler threads (default: all cores)");
  bench_scale_cmd
      ->add_option("--examples", bench_sc.examples,
                   "Training images per client, its minibatch each round")
      ->capture_default_str();
  bench_scale_cmd
      ->add_option("--image-size", bench_sc.image_size,
                   "Side of the synthetic images; the MLP's input is its square")
      ->capture_default_str();
  bench_scale_cmd->add_option("--hidden", bench_sc.hidden, "The MLP's hidden widths")
      ->capture_default_str();
  bench_scale_cmd
      ->add_option("--perturbation-cache-mb", bench_sc.perturbation_cache_mb,
                   "The node's cache of perturbed weights, as run.perturbation_cache_mb (0: off)")
      ->capture_default_str();

  // CLI11 reports an unknown first argument only as "a subcommand is required": name it.
  if (argc > 1) {
    const std::string first = argv[1];
    if (first != "run" && first != "serve" && first != "worker" && first != "check" &&
        first != "sweep" && first != "bench" && first != "schema" && first != "-h" &&
        first != "--help") {
      std::cerr << "error: unknown command or option '" << first
                << "'; commands are run, serve, worker, check, sweep, bench and schema (see baffle "
                   "--help)\n";
      return exit_code::bad_input;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : exit_code::bad_input;
  }
  if (*run) {
    if (run_req.scenario_path.empty() && run_req.resume_dir.empty()) {
      std::cerr << "error: baffle run needs a scenario file, or --resume DIR (see baffle run "
                   "--help)\n";
      return exit_code::bad_input;
    }
    return run_command(run_req);
  }
  if (*serve) {
    if (serve_req.scenario_path.empty() && serve_req.resume_dir.empty()) {
      std::cerr << "error: baffle serve needs a scenario file, or --resume DIR\n";
      return exit_code::bad_input;
    }
    serve_opt.local = serve_local == 1 && !serve_no_local;
    serve_req.serve = serve_opt;
    return run_command(serve_req);
  }
  if (*worker) return worker_command(worker_req);
  if (*check) return cmd_check(check_path, check_sets);
  if (*sweep) return run_sweep(sweep_opt);
  if (*schema) {
    std::cout << (schema_json_out ? schema_json() : schema_markdown());
    return 0;
  }
  if (*bench_forward_cmd) return bench_forward(bench_fwd, std::cout, std::cerr);
  if (*bench_estimator_cmd) return bench_estimator(bench_est, std::cout, std::cerr);
  if (*bench_scale_cmd) return bench_scale(bench_sc, std::cout, std::cerr);
  return exit_code::bad_input;
}
