// For tests of messages on the wire: the largest single allocation while tracking is on (proves
// a decoder did not size a container from a length it was told), and CAF's length prefix.
// Include it in one source file per test program: it replaces the global operator new.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace baffle::test {
inline std::atomic<bool> tracking{false};
inline std::atomic<size_t> largest{0};
}  // namespace baffle::test

// Replacing the global operator new is allowed once per program. Its nothrow form (which
// std::stable_sort's buffer uses) and delete are replaced too, so that every block freed by this
// delete came from this malloc and the sanitizers see matching pairs (GCC cannot tell they match);
// the array and aligned forms stay the library's, in pairs of their own.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
  using baffle::test::largest;
  if (baffle::test::tracking.load(std::memory_order_relaxed)) {
    size_t seen = largest.load(std::memory_order_relaxed);
    while (n > seen && !largest.compare_exchange_weak(seen, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return operator new(n);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace baffle::test {

/// The varbyte length prefix CAF writes before a sequence.
inline std::vector<char> varbyte(uint64_t n) {
  std::vector<char> out;
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    if (n != 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n != 0);
  return out;
}

}  // namespace baffle::test
