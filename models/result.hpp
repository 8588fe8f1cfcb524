// A value or an error message that says what to do: how expected failures (a missing data set,
// a malformed file) travel, so callers decide how to report them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace baffle {

/// What kind of expected failure it is. The command line chooses its exit code from the kind
/// (tools/exit_codes.hpp), never from the message.
enum class error_kind : uint8_t {
  bad_input,  ///< the user's input is wrong (scenario, data set, checkpoint, options): exit 2
  io,         ///< reading or writing a file failed: exit 1
  failed,     ///< the run could not go on (e.g. no client can ever arrive): exit 1
};

/// An expected failure: a message for a person, naming the file or key and what to do.
struct error_message {
  std::string text;
  error_kind kind = error_kind::bad_input;
};

/// Either a T or an error_message.
template <class T>
class result {
 public:
  result(T value) : v_(std::move(value)) {}
  result(error_message e) : v_(std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const std::string& error() const { return std::get<1>(v_).text; }
  const error_message& failure() const { return std::get<1>(v_); }

 private:
  std::variant<T, error_message> v_;
};

}  // namespace baffle
