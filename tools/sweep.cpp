// `baffle sweep`: validates every point of the grid up front (scenario, overrides and data, as
// `baffle run` would), then runs each point as a child `baffle run ... -q` of this same binary,
// at most --jobs at once, and writes DIR/index.csv from the points' summary.json files.
#include "tools/sweep.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "actors/round_columns.hpp"
#include "actors/world.hpp"
#include "models/dataset.hpp"
#include "net/stop_signal.hpp"
#include "scenarios/loader.hpp"
#include "tools/exit_codes.hpp"
#include "tools/run_output.hpp"

namespace baffle {

namespace fs = std::filesystem;

namespace {

/// The summary.json fields copied into index.csv, in column order.
constexpr const char* summary_columns[] = {
    "final_test_acc",   "final_test_loss",      "rounds",
    "sim_time_s",       "wall_time_s",          "bytes_up_total",
    "bytes_down_total", "forward_passes_total", "model_digest"};

/// One point while and after it runs.
struct point_run {
  const grid_point* point = nullptr;
  std::vector<std::string> overrides;  ///< --set form, the grid's part only
  fs::path dir;
  std::chrono::steady_clock::time_point start;
  double seconds = 0;
  bool ok = false;
  bool launched = false;
  bool stopped = false;  ///< stopped by a signal after a checkpoint: `baffle run --resume DIR`
  std::string failure;   ///< why it failed, for the progress line
  nlohmann::json summary;
  uint64_t rounds_read = 0;  ///< bytes of DIR/rounds.csv the monitor has been given
};

std::string set_key(const std::string& set) {
  return std::string(trim(std::string_view(set).substr(0, set.find('='))));
}

/// "a, b, c and 4 more".
std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t shown = 5;
  std::string out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) out += (i > 0 ? ", " : "") + names[i];
  if (names.size() > shown) out += fmt::format(" and {} more", names.size() - shown);
  return out;
}

/// The data set without its pixels: build_world's checks (clients left without images, network
/// shape) need the counts, shapes, channels and labels (the label-skewed partitions read them), so
/// each point is checked without copying the images.
train_test without_pixels(const train_test& d) {
  auto strip = [](const dataset& full) {
    dataset s;
    s.count = full.count;
    s.rows = full.rows;
    s.cols = full.cols;
    s.num_classes = full.num_classes;
    s.channels = full.channels;
    s.labels = full.labels;
    return s;
  };
  return {strip(d.train), strip(d.test)};
}

/// Loads every point's scenario with its overrides and builds its world from the data (loaded
/// once per data source), like `baffle run` does before writing anything. Prints every error,
/// naming the points it concerns (an error shared by several points is printed once). Returns the
/// first point's scenario name, or nullopt if any point is invalid.
std::optional<std::string> validate_points(const sweep_options& opt,
                                           const std::vector<point_run>& runs,
                                           std::vector<monitor_run_info>& infos) {
  infos.assign(runs.size(), {});
  // Each distinct message once, in first-seen order, with the points it concerns.
  std::vector<std::pair<std::string, std::vector<std::string>>> errors;
  std::map<std::string, size_t> error_index;
  auto add_error = [&](const std::string& message, const std::string& point) {
    const auto [it, added] = error_index.emplace(message, errors.size());
    if (added) errors.push_back({message, {}});
    errors[it->second].second.push_back(point);
  };

  // Each data source (loaded once below) with the points, and their scenarios, that use it.
  std::map<data_source, std::vector<std::pair<size_t, scenario>>> by_source;
  std::string first_name;
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<std::string> sets = opt.sets;
    sets.insert(sets.end(), runs[i].overrides.begin(), runs[i].overrides.end());
    load_result res = load_scenario(opt.scenario_path, sets);
    if (!res.ok()) {
      for (const scenario_error& e : res.errors) add_error(e.to_string(), runs[i].point->name);
      continue;
    }
    if (i == 0) first_name = res.value->name;
    infos[i] = run_info_of(*res.value, 1);
    data_source source = data_source_of(*res.value);
    by_source[std::move(source)].emplace_back(i, std::move(*res.value));
  }
  for (auto& [source, points] : by_source) {
    auto loaded = load_data(source);
    const std::optional<train_test> data =
        loaded ? std::optional<train_test>(without_pixels(*loaded)) : std::nullopt;
    for (auto& [i, sc] : points) {
      const std::string& name = runs[i].point->name;
      if (!data) {
        add_error(opt.scenario_path + ": " + loaded.error(), name);
        continue;
      }
      auto w = build_world(sc, *data);
      if (!w) add_error(opt.scenario_path + ": " + w.error(), name);
    }
  }
  if (errors.empty()) return first_name;

  size_t bad_points = 0;
  {
    std::vector<std::string> all;
    for (const auto& e : errors) all.insert(all.end(), e.second.begin(), e.second.end());
    std::sort(all.begin(), all.end());
    bad_points = static_cast<size_t>(std::unique(all.begin(), all.end()) - all.begin());
  }
  for (const auto& [message, points] : errors) {
    std::string where;
    if (points.size() == 1) {
      where = "point " + points[0];
    } else if (points.size() == runs.size()) {
      where = fmt::format("all {} points", runs.size());
    } else {
      where = "points " + name_list(points);
    }
    std::cerr << "error: " << where << ": " << message << "\n";
  }
  std::cerr << errors.size() << " error(s) in " << bad_points << " of " << runs.size()
            << " point(s) of " << opt.scenario_path << "; nothing was run or written\n";
  return std::nullopt;
}

/// runs/<name>-sweep, or -sweep-2, -3, ... if that exists and is not empty.
fs::path default_sweep_dir(const std::string& name) {
  const std::string base = name + "-sweep";
  for (int i = 1;; ++i) {
    const fs::path p = fs::path("runs") / (i == 1 ? base : base + "-" + std::to_string(i));
    std::error_code ec;
    if (!fs::exists(p, ec) || (fs::is_directory(p, ec) && fs::is_empty(p, ec))) return p;
  }
}

/// A path argument that cannot be mistaken for an option.
std::string as_operand(const std::string& path) {
  return !path.empty() && path[0] == '-' ? "./" + path : path;
}

/// Starts `baffle run` for one point with stdin and stdout on /dev/null and stderr in
/// DIR/stderr.log. Returns the child's pid, or -1 with run.failure set.
pid_t launch(const sweep_options& opt, point_run& run, int threads) {
  std::error_code ec;
  fs::create_directories(run.dir, ec);
  if (ec) {
    run.failure = "cannot create " + run.dir.string() + ": " + ec.message();
    return -1;
  }
  std::vector<std::string> args = {"baffle", "run", as_operand(opt.scenario_path)};
  for (const std::string& s : opt.sets) args.push_back("--set=" + s);
  for (const std::string& s : run.overrides) args.push_back("--set=" + s);
  args.push_back("--out=" + run.dir.string());
  args.push_back("--threads=" + std::to_string(threads));
  args.push_back("-q");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const fs::path log = run.dir / "stderr.log";
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (null_fd < 0 || log_fd < 0) {
    run.failure = "cannot open /dev/null or " + log.string() + ": " + std::strerror(errno);
    if (null_fd >= 0) close(null_fd);
    if (log_fd >= 0) close(log_fd);
    return -1;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec (dup2 clears close-on-exec on the copies).
    // Its own process group: a Ctrl-C at the terminal reaches the sweep only, which passes one
    // stop request to each run (two would make a run stop at once, without its checkpoint).
    setpgid(0, 0);
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv("/proc/self/exe", argv.data());
    constexpr char msg[] = "baffle sweep: cannot execute /proc/self/exe\n";
    [[maybe_unused]] const ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
  }
  const int fork_errno = errno;
  close(null_fd);
  close(log_fd);
  if (pid < 0) run.failure = std::string("cannot start a process: ") + std::strerror(fork_errno);
  return pid;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// The last non-empty line of a file ("" if none), to show why a point failed.
std::string last_line(const fs::path& path) {
  const std::string text = read_text(path);
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end - (start == std::string::npos ? 0 : start + 1) + 1);
}

/// Records a finished child: ok with its summary, or failed with the reason.
void finish(point_run& run, int status) {
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run.start).count();
  if (WIFSIGNALED(status)) {
    run.failure =
        fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return;
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 128 + SIGINT || code == 128 + SIGTERM) {
    run.stopped = true;
    run.failure = "stopped after a checkpoint; continue with: baffle run --resume " + run.dir.string();
    return;
  }
  if (code != 0) {
    run.failure = fmt::format("exit {}", code);
    return;
  }
  const fs::path summary = run.dir / "summary.json";
  try {
    run.summary = nlohmann::json::parse(read_text(summary));
    if (!run.summary.is_object()) throw std::runtime_error("not a JSON object");
  } catch (const std::exception& e) {
    run.failure = "exit 0 but " + summary.string() + " is missing or unreadable (" + e.what() + ")";
    return;
  }
  run.ok = true;
  std::error_code ec;
  const fs::path log = run.dir / "stderr.log";
  if (fs::exists(log, ec) && fs::file_size(log, ec) == 0) fs::remove(log, ec);
}

/// Hands the monitor the complete rows a running point has added to its rounds.csv since the
/// last call (the header and a half-written last line are left for later).
void follow_rounds(monitor& mon, size_t index, point_run& run) {
  std::ifstream in(run.dir / "rounds.csv", std::ios::binary);
  if (!in) return;
  in.seekg(static_cast<std::streamoff>(run.rounds_read));
  const std::string text(std::istreambuf_iterator<char>(in), {});
  const size_t end = text.rfind('\n');
  if (end == std::string::npos) return;
  std::vector<round_row> rows;
  size_t start = 0;
  while (start <= end) {
    const size_t nl = text.find('\n', start);
    if (auto row = parse_rounds_csv_row(std::string_view(text).substr(start, nl - start)))
      rows.push_back(*row);
    start = nl + 1;
  }
  run.rounds_read += end + 1;
  if (!rows.empty()) mon.point_rounds(index, std::move(rows));
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string json_cell(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return "";
  const nlohmann::json& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string index_csv(const std::vector<grid_axis>& axes, const std::vector<point_run>& runs) {
  // Cells are appended one by one ("," + std::string trips a GCC 12 -Wrestrict false positive).
  std::string out = "point";
  auto cell = [&out](const std::string& text) {
    out += ',';
    out += csv_cell(text);
  };
  for (const grid_axis& a : axes) cell(a.key);
  for (const char* c : summary_columns) cell(c);
  out += ",status,dir\n";
  for (const point_run& r : runs) {
    out += csv_cell(r.point->name);
    for (size_t i = 0; i < axes.size(); ++i) cell(axes[i].values[r.point->choice[i]]);
    for (const char* c : summary_columns) cell(r.ok ? json_cell(r.summary, c) : "");
    cell(r.ok ? "ok" : r.stopped ? "stopped" : r.launched ? "failed" : "not run");
    cell(r.dir.string());
    out += '\n';
  }
  return out;
}

}  // namespace

int run_sweep(const sweep_options& opt) {
  // The grid: syntax first, then the size, then clashes with --set.
  const grid_parse_result grid = parse_grids(opt.grids);
  if (!grid.ok()) {
    for (const std::string& e : grid.errors) std::cerr << "error: " << e << "\n";
    std::cerr << grid.errors.size() << " error(s) in --grid; nothing was run or written\n";
    return exit_code::bad_input;
  }
  if (grid.axes.empty()) {
    std::cerr << "error: nothing to sweep; give at least one --grid dotted.key=v1,v2,...\n";
    return exit_code::bad_input;
  }
  const size_t n = grid_size(grid.axes);
  if (n > max_sweep_points) {
    std::cerr << "error: the grid has " << (n == SIZE_MAX ? "too many" : std::to_string(n))
              << " points; at most " << max_sweep_points << " are allowed\n";
    return exit_code::bad_input;
  }
  bool clash = false;
  for (const std::string& s : opt.sets) {
    for (const grid_axis& a : grid.axes) {
      if (set_key(s) == a.key) {
        std::cerr << "error: " << a.key << " is both --set ('" << s
                  << "') and swept by --grid; drop one\n";
        clash = true;
      }
    }
  }
  if (clash) return exit_code::bad_input;

  const std::vector<grid_point> points = expand_grid(grid.axes);
  std::vector<point_run> runs(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    runs[i].point = &points[i];
    runs[i].overrides = point_overrides(grid.axes, points[i]);
  }
  std::vector<monitor_run_info> infos;
  const std::optional<std::string> name = validate_points(opt, runs, infos);
  if (!name) return exit_code::bad_input;
  std::unique_ptr<monitor> mon;
  if (!start_monitor(opt.monitor, mon)) return exit_code::bad_input;
  if (mon) {
    for (size_t i = 0; i < runs.size(); ++i) {
      std::string overrides;
      for (const std::string& o : runs[i].overrides)
        overrides += (overrides.empty() ? "" : " ") + o;
      mon->add_point(runs[i].point->name, std::move(overrides), infos[i]);
    }
  }

  // The sweep folder and the thread budget.
  const fs::path dir = opt.out.empty() ? default_sweep_dir(*name) : fs::path(opt.out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::cerr << "error: cannot create the sweep folder " << dir << ": " << ec.message() << "\n";
    return exit_code::failed;
  }
  for (point_run& r : runs) r.dir = dir / r.point->name;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int jobs = static_cast<int>(std::min<size_t>(std::max(1, opt.jobs), runs.size()));
  const int threads = opt.threads_per_job > 0 ? opt.threads_per_job : std::max(1, cores / jobs);
  if (jobs * threads > cores) {
    std::cerr << "warning: " << jobs << " job(s) x " << threads << " thread(s) exceeds the "
              << cores << " core(s) of this machine; runs will compete for them\n";
  }
  if (!opt.quiet) {
    std::cerr << "baffle sweep " << *name << ": " << runs.size() << " point(s), " << jobs
              << " at a time, " << threads << " thread(s) each -> " << dir.string() << "\n";
  }

  // SIGINT/SIGTERM: launch nothing more, pass the stop to every running point (each writes a
  // checkpoint and exits), then write index.csv; a second signal stops the sweep at once.
  stop_signals signals(opt.quiet ? stop_signals::callback{}
                                : stop_signals::announce(
                                      "\nstopping: no new points; running points stop after their "
                                      "current round with a checkpoint (Ctrl-C again to stop the "
                                      "sweep at once)\n"));
  bool forwarded = false;

  // Run: keep up to `jobs` children going; report each as it finishes.
  std::map<pid_t, size_t> running;
  size_t next = 0;
  size_t done = 0;
  size_t failed = 0;
  auto report = [&](point_run& r) {
    ++done;
    if (r.ok) {
      if (opt.quiet) return;
      const auto acc = r.summary.find("final_test_acc");
      const bool number = acc != r.summary.end() && acc->is_number();
      std::cerr << fmt::format("[{}/{}] {} acc {} ({:.1f}s)\n", done, runs.size(), r.point->name,
                               number ? fmt::format("{:.3f}", acc->get<double>()) : "?", r.seconds);
      return;
    }
    ++failed;
    const fs::path log = r.dir / "stderr.log";
    if (r.stopped) {
      std::cerr << fmt::format("[{}/{}] {} STOPPED: {}\n", done, runs.size(), r.point->name,
                               r.failure);
      return;
    }
    std::cerr << fmt::format("[{}/{}] {} FAILED: {} ({:.1f}s); see {}\n", done, runs.size(),
                             r.point->name, r.failure, r.seconds, log.string());
    const std::string why = last_line(log);
    if (!why.empty()) std::cerr << "    " << why << "\n";
  };
  while (done < runs.size()) {
    if (signals.stop_requested() && !forwarded) {
      forwarded = true;
      const int signo = signals.signal_number() > 0 ? signals.signal_number() : SIGINT;
      for (const auto& [p, i] : running) kill(p, signo);
      for (size_t i = next; i < runs.size(); ++i) {
        runs[i].failure = "not run (the sweep was stopped)";
        ++done;
        ++failed;
      }
      next = runs.size();
    }
    while (running.size() < static_cast<size_t>(jobs) && next < runs.size()) {
      point_run& r = runs[next];
      r.start = std::chrono::steady_clock::now();
      r.launched = true;
      const pid_t pid = launch(opt, r, threads);
      if (pid < 0) {
        report(r);
        if (mon) mon->point_state(next, run_state::failed, r.failure);
      } else {
        running[pid] = next;
        if (mon) mon->point_state(next, run_state::running);
      }
      ++next;
    }
    if (running.empty()) continue;
    if (mon) {
      for (const auto& [p, i] : running) follow_rounds(*mon, i, runs[i]);
    }
    int status = 0;
    // Poll so a stop request is passed on while every slot is busy (the signal itself is taken
    // by stop_signals' thread and does not interrupt this wait).
    const pid_t pid = waitpid(-1, &status, forwarded ? 0 : WNOHANG);
    if (pid == 0) {
      signals.wait_for_stop(std::chrono::milliseconds(50));
      continue;
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      // No children left that we know of: should not happen; fail what was running.
      for (auto& [p, i] : running) {
        runs[i].failure = std::string("lost track of the process: ") + std::strerror(errno);
        report(runs[i]);
      }
      running.clear();
      continue;
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const size_t it_index = it->second;
    point_run& r = runs[it_index];
    running.erase(it);
    finish(r, status);
    report(r);
    if (mon) {
      follow_rounds(*mon, it_index, r);
      const auto acc = r.summary.find("final_test_acc");
      const bool number = r.ok && acc != r.summary.end() && acc->is_number();
      mon->point_state(it_index,
                       r.ok        ? run_state::finished
                       : r.stopped ? run_state::stopped
                                   : run_state::failed,
                       r.ok ? "" : r.failure,
                       number ? std::optional<double>(acc->get<double>()) : std::nullopt);
    }
  }

  const fs::path index = dir / "index.csv";
  if (!write_file_atomic(index, index_csv(grid.axes, runs))) {
    std::cerr << "error: cannot write " << index << "\n";
    return exit_code::failed;
  }
  // The exit code is the sweep's, fixed before the last line: a signal after it only ends the
  // monitor's linger.
  const int signo = signals.signal_number();
  const int code = signo > 0 ? 128 + signo : failed == 0 ? 0 : 1;
  if (mon) mon->sync();  // every point's final state is served before the last line
  std::printf("%s: %zu point(s), %zu ok, %zu failed\n", index.c_str(), runs.size(),
              runs.size() - failed, failed);
  std::fflush(stdout);
  linger_and_stop(mon, opt.monitor, signals);
  return code;
}

}  // namespace baffle
