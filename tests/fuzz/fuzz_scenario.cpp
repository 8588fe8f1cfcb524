// Fuzz target: the scenario loader, on TOML text plus --set strings. The input is the file's text,
// then any number of NUL-separated override strings. Whatever the bytes, the loader must answer
// with a scenario or with errors, never crash; an accepted scenario must survive the resolved-file
// round trip (to_toml, parsed again, gives the same text), as `baffle run` relies on.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (true) {
      const size_t next = rest.find('\0');
      overrides.emplace_back(rest.substr(0, next));
      if (next == std::string_view::npos) break;
      rest = rest.substr(next + 1);
    }
  }
  const baffle::load_result r = baffle::parse_scenario(text, "fuzz.toml", overrides);
  if (!r.ok()) {
    if (r.errors.empty()) std::abort();  // a refusal must say why
    for (const auto& e : r.errors) static_cast<void>(e.to_string());
    return 0;
  }
  const std::string resolved = baffle::to_toml(*r.value);
  const baffle::load_result again = baffle::parse_scenario(resolved, "resolved.toml");
  if (!again.ok()) {
    for (const auto& e : again.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "the resolved scenario does not load again:\n%s\n", resolved.c_str());
    std::abort();
  }
  if (const std::string twice = baffle::to_toml(*again.value); twice != resolved) {
    std::fprintf(stderr, "resolving twice changes the text:\n%s\n---\n%s\n", resolved.c_str(),
                 twice.c_str());
    std::abort();
  }
  return 0;
}
