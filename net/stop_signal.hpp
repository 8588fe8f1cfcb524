// Clean stop on SIGINT and SIGTERM: the first signal sets a flag the simulation polls between
// rounds (so it can write a checkpoint and exit), a second one ends the process at once.
// Boost.Asio's signal_set does the async-signal-safe part, so no handler of ours runs in signal
// context.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace baffle {

/// Owns the process's SIGINT/SIGTERM handling while alive: an io_context, a signal_set for both
/// signals and one background thread running them. The destructor restores default handling.
///
/// - First signal: stop_requested() becomes true, then `on_first_signal(signo)` runs (if given).
/// - Second signal (counting both kinds; request_stop() does not count): one line on stderr, then
///   std::_Exit(128 + signo), i.e. 130 for SIGINT and 143 for SIGTERM. No destructor runs; the
///   last checkpoint written stays valid because checkpoints are written atomically.
///
/// Create at most one per process at a time (two would each see every signal).
class stop_signals {
 public:
  /// Called on the background thread after the first signal; keep it short and non-throwing
  /// (e.g. print "stopping after the current round; press Ctrl-C again to stop at once").
  using callback = std::function<void(int signo)>;

  explicit stop_signals(callback on_first_signal = {});
  ~stop_signals();
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  /// True once a signal arrived or request_stop() was called. One atomic load: poll it freely.
  bool stop_requested() const noexcept;

  /// Sets the flag as a first signal would, without calling the callback or counting as a signal.
  void request_stop();

  /// The first signal's number (SIGINT, SIGTERM), or 0 if none arrived (request_stop() sets none).
  int signal_number() const noexcept;

  /// A callback that writes `message` to stderr (with ::write, safe on the signal thread).
  static callback announce(std::string message);

  /// Blocks until stop_requested() or `timeout` passes; returns stop_requested().
  bool wait_for_stop(std::chrono::milliseconds timeout) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace baffle
