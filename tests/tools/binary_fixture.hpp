// Shared pieces of the end-to-end tests that run build/tools/baffle (from BAFFLE_BINARY_DIR):
// a fixture that gives each test a fresh folder under testing::TempDir() and runs the binary in
// it with stdout and stderr captured, plus small text helpers for what the runs print and write.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace baffle::e2e {

namespace fs = std::filesystem;

/// What one invocation of the binary did.
struct cli_result {
  int exit_code = -1;  ///< the process exit status; -1 if it did not exit normally
  std::string out;     ///< everything written to stdout
  std::string err;     ///< everything written to stderr
};

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Cells of a CSV row (a trailing comma ends in an empty cell) or lines of text (a trailing
/// newline ends the last line and adds nothing).
inline std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) parts.push_back(part);
  if (!text.empty() && text.back() == sep && sep == ',') parts.emplace_back();
  return parts;
}

/// Lines of `text` (no trailing empty line).
inline std::vector<std::string> lines_of(const std::string& text) {
  return split(text, '\n');
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline std::vector<std::string> concat(std::vector<std::string> a,
                                       const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Prints a run's output on failure.
inline std::string show(const cli_result& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout ---\n" + r.out + "--- stderr ---\n" +
         r.err;
}

/// Gives each test a fresh working folder and runs the baffle binary in it. A test fixture
/// derives from it and names its temporary folders, e.g. `Cli() : baffle_binary_test("cli") {}`
/// makes folders like baffle_cli_XXXXXX.
class baffle_binary_test : public testing::Test {
 protected:
  explicit baffle_binary_test(std::string name) : name_(std::move(name)) {}

  void SetUp() override {
    const char* source = std::getenv("BAFFLE_SOURCE_DIR");
    const char* binary = std::getenv("BAFFLE_BINARY_DIR");
    ASSERT_NE(source, nullptr) << "BAFFLE_SOURCE_DIR is not set; run this test through ctest";
    ASSERT_NE(binary, nullptr) << "BAFFLE_BINARY_DIR is not set; run this test through ctest";
    baffle_ = fs::path(binary) / "tools" / "baffle";
    quickstart_ = fs::path(source) / "scenarios" / "quickstart.toml";
    ASSERT_TRUE(fs::exists(baffle_)) << baffle_ << " is missing; build the baffle target";
    ASSERT_TRUE(fs::exists(quickstart_)) << quickstart_;

    std::string pattern = (fs::path(testing::TempDir()) / ("baffle_" + name_ + "_XXXXXX")).string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "cannot create a folder like " << pattern;
    root_ = pattern;
    work_ = root_ / "work";
    logs_ = root_ / "logs";
    fs::create_directories(work_);
    fs::create_directories(logs_);
  }

  void TearDown() override {
    // Whatever a test started and did not wait for is killed, by process id, even after a
    // failed assertion.
    for (child& c : children_) {
      if (c.pid > 0) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, nullptr, 0);
      }
      if (c.out != nullptr) fclose(c.out);
    }
    children_.clear();
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  /// A baffle process left running: its stdout is a pipe read line by line, stderr a file.
  struct child {
    pid_t pid = -1;
    FILE* out = nullptr;
    fs::path err;
  };

  /// Starts `baffle args...` in work_ without waiting for it; the fixture kills it at the end of
  /// the test if it is still running. `env` ("NAME=value") is added to this process's environment
  /// for the child. Returns its index for the calls below.
  size_t spawn(const std::vector<std::string>& args, std::vector<std::string> env = {}) {
    return spawn_program(baffle_, args, std::move(env));
  }

  /// spawn() for another program of the build (e.g. a test's helper process).
  size_t spawn_program(const fs::path& program, const std::vector<std::string>& args,
                       std::vector<std::string> env = {}) {
    child c;
    c.err = logs_ / ("spawn_err" + std::to_string(++calls_));
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    std::vector<std::string> argv_text = concat({program.string()}, args);
    std::vector<char*> argv;
    for (std::string& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    c.pid = fork();
    if (c.pid == 0) {
      const int in = open("/dev/null", O_RDONLY);
      const int err = open(c.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || err < 0 || chdir(work_.c_str()) != 0) _exit(127);
      dup2(in, STDIN_FILENO);
      dup2(fds[1], STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      close(fds[0]);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(fds[1]);
    c.out = fdopen(fds[0], "r");
    children_.push_back(c);
    return children_.size() - 1;
  }

  /// The next line of a spawned process's stdout (blocks until it is written; "" at its end).
  std::string next_line(size_t i) {
    char buf[4096];
    return fgets(buf, sizeof(buf), children_[i].out) != nullptr ? std::string(buf) : std::string();
  }

  /// Waits for a spawned process (after `signal`, if not 0) and returns its exit code (-1 if a
  /// signal ended it).
  int wait_for(size_t i, int signal = 0) {
    child& c = children_[i];
    if (c.pid <= 0) return -1;
    if (signal != 0) kill(c.pid, signal);
    int status = 0;
    waitpid(c.pid, &status, 0);
    c.pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  /// Waits until a spawned process has stopped (SIGSTOP, e.g. raised on itself); true if it did,
  /// false if it ended instead.
  bool wait_until_stopped(size_t i) {
    child& c = children_[i];
    int status = 0;
    if (c.pid <= 0 || waitpid(c.pid, &status, WUNTRACED) != c.pid) return false;
    if (WIFSTOPPED(status)) return true;
    c.pid = -1;
    return false;
  }

  /// Lets a stopped process go on (SIGCONT).
  void continue_stopped(size_t i) {
    if (children_[i].pid > 0) kill(children_[i].pid, SIGCONT);
  }

  /// Kills a spawned process at once (SIGKILL) and reaps it.
  void kill_now(size_t i) { wait_for(i, SIGKILL); }

  std::string stderr_of(size_t i) const { return read_text(children_[i].err); }

  /// Runs `baffle args...` with the working directory `cwd` (default: work_), capturing
  /// stdout and stderr through files (so stderr is not a terminal); `env` ("NAME=value") is added
  /// to this process's environment for the child.
  cli_result baffle(const std::vector<std::string>& args, std::optional<fs::path> cwd = {},
                    std::vector<std::string> env = {}) {
    const fs::path dir = cwd.value_or(work_);
    const int id = ++calls_;
    const fs::path out_file = logs_ / ("out" + std::to_string(id));
    const fs::path err_file = logs_ / ("err" + std::to_string(id));
    std::vector<std::string> argv_text = concat({baffle_.string()}, args);
    std::vector<char*> argv;
    for (std::string& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    cli_result r;
    const pid_t pid = fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork failed";
      return r;
    }
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      const int in = open("/dev/null", O_RDONLY);
      const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0 || err < 0 || chdir(dir.c_str()) != 0) _exit(127);
      dup2(in, STDIN_FILENO);
      dup2(out, STDOUT_FILENO);
      dup2(err, STDERR_FILENO);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) ADD_FAILURE() << "waitpid failed";
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_text(out_file);
    r.err = read_text(err_file);
    return r;
  }

  /// Every entry under the working folder, for "nothing was written" checks.
  std::vector<std::string> work_entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(work_))
      names.push_back(fs::relative(e.path(), work_).string());
    std::sort(names.begin(), names.end());
    return names;
  }

  fs::path baffle_;      ///< the binary under test
  fs::path quickstart_;  ///< scenarios/quickstart.toml in the source tree
  fs::path root_;        ///< this test's temporary folder, removed afterwards
  fs::path work_;        ///< the default working directory of every run
  fs::path logs_;        ///< captured stdout/stderr, kept out of work_
  int calls_ = 0;

 private:
  std::vector<child> children_;
  std::string name_;
};

}  // namespace baffle::e2e
