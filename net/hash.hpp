// FNV-1a 64, the one non-cryptographic hash of the project: model digests, scenario fingerprints
// in checkpoints, and names and seeds derived from text. Values are printed, documented and stored
// in run folders, so they must never change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace baffle {

/// FNV-1a's standard 64-bit offset basis.
inline constexpr uint64_t fnv1a_basis = 14695981039346656037ull;

/// The basis of model digests (params_digest) and scenario fingerprints: the standard basis with
/// its last digit lost. Kept, since documented digests (the quickstart's 0e4130380bfe1c79) and the
/// fingerprints in existing checkpoints were computed with it.
inline constexpr uint64_t digest_basis = 1469598103934665603ull;

/// FNV-1a 64 of the bytes, starting from `basis`.
inline uint64_t fnv1a(std::span<const std::byte> bytes, uint64_t basis = fnv1a_basis) {
  uint64_t h = basis;
  for (const std::byte b : bytes) h = (h ^ static_cast<uint8_t>(b)) * 1099511628211ull;
  return h;
}

/// FNV-1a 64 of the characters of text, starting from `basis`.
inline uint64_t fnv1a(std::string_view text, uint64_t basis = fnv1a_basis) {
  return fnv1a(std::as_bytes(std::span(text.data(), text.size())), basis);
}

}  // namespace baffle
