// The exit codes of the baffle command, in one place: 0 ok, 1 the run or a file failed, 2 bad
// input (nothing was run or written), 128 + signal when stopped by SIGINT/SIGTERM.
#pragma once

#include "models/result.hpp"

namespace baffle::exit_code {

inline constexpr int ok = 0;
inline constexpr int failed = 1;
inline constexpr int bad_input = 2;

/// The exit code for an expected failure of this kind.
constexpr int of(error_kind kind) {
  switch (kind) {
    case error_kind::bad_input:
      return bad_input;
    case error_kind::io:
    case error_kind::failed:
      return failed;
  }
  return failed;
}

}  // namespace baffle::exit_code
