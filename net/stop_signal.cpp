// stop_signals: Asio's signal handler only writes to a pipe; our handler runs on the io thread,
// where it may lock, notify and call the user's callback.
#include "net/stop_signal.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

namespace baffle {

struct stop_signals::impl {
  explicit impl(callback cb) : on_first_signal(std::move(cb)), signals(io, SIGINT, SIGTERM) {}

  // One outstanding wait at a time; signals arriving in between are queued by the signal_set.
  void arm() {
    signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;  // cancelled by the destructor: run() then returns, out of work
      on_signal(signo);
      arm();
    });
  }

  void on_signal(int signo) {
    if (++signals_seen >= 2) {
      static constexpr char message[] = "\nbaffle: second signal, stopping at once\n";
      // ::write, not iostreams: stderr's stream may be mid-write on another thread.
      if (::write(STDERR_FILENO, message, sizeof message - 1) < 0) {
      }
      std::_Exit(128 + signo);
    }
    first_signal.store(signo, std::memory_order_release);
    set_stop();
    if (on_first_signal) on_first_signal(signo);
  }

  void set_stop() {
    {
      // Under the mutex, so a waiter cannot check the flag and then miss the notification.
      std::lock_guard<std::mutex> lock(mutex);
      stop.store(true, std::memory_order_release);
    }
    cv.notify_all();
  }

  std::atomic<bool> stop{false};
  std::atomic<int> first_signal{0};
  mutable std::mutex mutex;
  mutable std::condition_variable cv;
  int signals_seen = 0;  // touched on the io thread only
  callback on_first_signal;
  boost::asio::io_context io{1};
  boost::asio::signal_set signals;
  std::thread thread;
};

stop_signals::stop_signals(callback on_first_signal)
    : impl_(std::make_unique<impl>(std::move(on_first_signal))) {
  impl_->arm();
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

stop_signals::~stop_signals() {
  // The signal_set is not thread-safe, so it is cleared on its own thread. clear() puts SIG_DFL
  // back; cancel() ends the pending wait, which leaves run() without work, so the thread ends.
  boost::asio::post(impl_->io, [s = &impl_->signals] {
    boost::system::error_code ignored;
    s->clear(ignored);
    s->cancel(ignored);
  });
  impl_->thread.join();
}

bool stop_signals::stop_requested() const noexcept {
  return impl_->stop.load(std::memory_order_acquire);
}

void stop_signals::request_stop() {
  impl_->set_stop();
}

int stop_signals::signal_number() const noexcept {
  return impl_->first_signal.load(std::memory_order_acquire);
}

stop_signals::callback stop_signals::announce(std::string message) {
  return [message = std::move(message)](int) {
    if (::write(STDERR_FILENO, message.data(), message.size()) < 0) {
    }
  };
}

bool stop_signals::wait_for_stop(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  return impl_->cv.wait_for(lock, timeout,
                            [this] { return impl_->stop.load(std::memory_order_acquire); });
}

}  // namespace baffle
