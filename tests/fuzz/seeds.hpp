// For the fuzz targets: writes a target's seed corpus when BAFFLE_FUZZ_WRITE_SEEDS names a folder
// (tools/fuzz --seeds), so the committed corpus can be regenerated when a format changes.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace baffle::fuzz {

/// The folder to write seeds to, or nullptr for a normal fuzzing run.
inline const char* seed_folder() {
  return std::getenv("BAFFLE_FUZZ_WRITE_SEEDS");
}

inline void write_seed(const std::string& name, std::string_view bytes) {
  const std::string path = std::string(seed_folder()) + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

}  // namespace baffle::fuzz
