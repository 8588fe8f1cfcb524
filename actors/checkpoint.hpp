// The server's state between two rounds as bytes, and back: what `checkpoint.bin` holds besides
// the run folder's file lengths. The world (data, partition, fleet) is rebuilt from the scenario,
// and every random draw is keyed by (seed, purpose, client, round), so the state is only what the
// run has accumulated: model, optimizer, EMA, clock, counters, download bookkeeping and, under
// async, every dispatch in flight with its result.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "models/result.hpp"

namespace baffle {

struct server_state;

/// Little-endian-agnostic (same machine, same build) appender of plain values and vectors.
class byte_writer {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <class T>
  void put_vector(const std::vector<T>& v) {
    put<uint64_t>(v.size());
    if (!v.empty()) out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

/// Reads what byte_writer wrote; any overrun sets a sticky failure instead of reading past the end.
class byte_reader {
 public:
  explicit byte_reader(std::string_view in) : in_(in) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v{};
    if (!take(sizeof(T))) return v;
    std::memcpy(&v, in_.data() + pos_ - sizeof(T), sizeof(T));
    return v;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto n = get<uint64_t>();
    std::vector<T> v;
    if (!ok_ || n > (in_.size() - pos_) / sizeof(T)) {
      ok_ = false;
      return v;
    }
    v.resize(n);
    if (n > 0) std::memcpy(v.data(), in_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
    return v;
  }
  std::string get_string() {
    const auto n = get<uint64_t>();
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return {};
    }
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  bool take(size_t n) {
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

/// What checkpoint.bin holds: the scenario it belongs to, the run folder's file lengths when it
/// was written, and the server's state; sealed (magic, version, length, CRC-32: net/atomic_file).
struct checkpoint_file {
  std::string fingerprint;        ///< of the resolved scenario text it was written for
  uint64_t rounds_csv_bytes = 0;  ///< rounds.csv's length at the checkpoint
  uint64_t events_bytes = 0;      ///< events.log's length at the checkpoint
  bool events = false;            ///< the run writes events.log
  double wall_seconds = 0.0;      ///< wall time the run had spent
  int64_t round = 0;              ///< the last round the checkpoint includes
  std::string state;              ///< save_server_state's bytes
};

/// The sealed bytes of checkpoint.bin.
std::string write_checkpoint_file(const checkpoint_file& c);

/// Reads what write_checkpoint_file wrote: any file bytes at all, from outside. The error says
/// what is wrong (not a checkpoint, damaged, truncated) without the file's name.
result<checkpoint_file> read_checkpoint_file(std::string_view sealed);

/// The server's state after a round (or async update) as bytes.
std::string save_server_state(const server_state& st);

/// Restores what save_server_state wrote into a freshly built server state of the same scenario
/// (its world, replica and client records already set up). The error says what does not fit.
result<bool> load_server_state(std::string_view bytes, server_state& st);

}  // namespace baffle
