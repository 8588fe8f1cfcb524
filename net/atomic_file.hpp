// Crash-safe files for checkpoint and resume: whole-file writes that are atomic (a reader or a
// resumed run sees the old file or the new one, never a mix), and a checksummed container so a
// damaged checkpoint is refused with a reason instead of being half-loaded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "models/result.hpp"

namespace baffle {

/// Replaces `path` with `bytes`: writes a temporary file in the same folder, fsyncs it, renames it
/// over `path`, then fsyncs the folder so the rename survives a power cut. On failure before the
/// rename the temporary file is removed and `path` is untouched; only a crash mid-write can leave a
/// stray `<path>.tmp.<pid>.<n>` beside it. New files get mode 0666 & ~umask.
result<bool> write_file_atomically(const std::string& path, std::string_view bytes);

/// The whole file as bytes.
result<std::string> read_file(const std::string& path);

/// Cuts (or zero-extends) `path` to `size` bytes: on resume, drops CSV rows written after the
/// checkpoint.
result<bool> truncate_file(const std::string& path, uint64_t size);

// ---------------------------------------------------------------------------------------------
// Sealed container. Layout, integers little-endian:
//
//   offset  size  field
//        0     8  magic "BAFFLECK"
//        8     4  format version (sealed_format_version)
//       12     8  payload size in bytes
//       20     4  CRC-32 (zlib) of the payload
//       24     n  payload
//
// Every single-byte change and every truncation is caught: by the magic, the version, the size
// (which must match the bytes present exactly) or the CRC.

inline constexpr std::string_view sealed_magic = "BAFFLECK";
inline constexpr uint32_t sealed_format_version = 1;
inline constexpr uint64_t sealed_header_bytes = 24;

/// The payload behind a sealed_header_bytes header.
std::string seal(std::string_view payload);

/// The payload of a sealed blob. The error says what is wrong: not a checkpoint (bad magic),
/// unsupported version, truncated (header or payload), trailing bytes, or CRC mismatch.
result<std::string> unseal(std::string_view sealed);

}  // namespace baffle
