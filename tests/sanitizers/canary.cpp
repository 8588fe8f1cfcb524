// A deliberately broken program, built only in the instrumented builds: ctest runs each of its
// faults and passes only when the sanitizer reports it, which proves the build is instrumented
// (a plain build would run these faults silently, or crash without a report).
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// The pointer and index go through volatile so the compiler cannot see the fault and fold it.
int heap_overflow() {
  std::vector<int> v(8);
  volatile size_t i = 8;
  int* volatile p = v.data();
  p[i] = 1;  // one past the end: ASan reports a heap-buffer-overflow
  return p[0];
}

int signed_overflow() {
  volatile int big = 2147483647;
  const int r = big + 1;  // UBSan reports a signed integer overflow
  return r;
}

int data_race() {
  int shared = 0;  // written by two threads with no synchronisation: TSan reports a data race
  std::thread a([&] { shared = 1; });
  std::thread b([&] { shared = 2; });
  a.join();
  b.join();
  return shared;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string fault = argc > 1 ? argv[1] : "";
  int r = 0;
  if (fault == "heap-overflow") {
    r = heap_overflow();
  } else if (fault == "signed-overflow") {
    r = signed_overflow();
  } else if (fault == "data-race") {
    r = data_race();
  } else {
    std::fprintf(stderr, "usage: sanitizer_canary heap-overflow|signed-overflow|data-race\n");
    return 2;
  }
  std::printf("fault ran unreported (%d)\n", r);
  return 0;
}
