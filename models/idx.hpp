// Reading and writing IDX files (the MNIST container format), plain or gzipped, so data sets can be
// loaded without any Python step and tests can generate small ones on the fly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/result.hpp"

namespace baffle {

/// An IDX array (MNIST format): unsigned-byte data only (type code 0x08), any rank.
struct idx_array {
  std::vector<uint32_t> dims;  // outermost first, as stored in the file
  std::vector<uint8_t> data;   // row-major, product(dims) bytes
};

/// Reads an IDX file, gzipped or not (zlib's gzopen/gzread read both). Errors name the file and
/// what is wrong (missing, truncated, bad magic, unsupported type, size mismatch).
result<idx_array> read_idx(const std::string& path);

/// The first items (slices along dims[0]) of an IDX file, and how many the file stores.
struct idx_prefix {
  idx_array kept;             // kept.dims[0] = items kept; data holds only those
  uint32_t stored_items = 0;  // the file's dims[0] (1 for rank 0)
};

/// Like read_idx, but keeps only the first `max_items` items (all when max_items is 0 or at least
/// the stored count) and stops reading there, so a subset of a large gzipped file loads in
/// milliseconds. Bytes beyond the kept items are not checked.
result<idx_prefix> read_idx_prefix(const std::string& path, uint64_t max_items);

/// Writes an IDX ubyte file, gzipped when gzip is true (used by tests and tools).
result<bool> write_idx(const std::string& path, const idx_array& a, bool gzip);

}  // namespace baffle
