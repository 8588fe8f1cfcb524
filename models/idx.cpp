// IDX reader and writer over zlib's gz* API, which reads gzipped and plain files alike. Data is
// read in large chunks so the 47 MB Fashion-MNIST training images load in a fraction of a second,
// and a prefix read stops early so a small subset costs milliseconds.
#include "models/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace baffle {
namespace {

constexpr uint8_t ubyte_type = 0x08;
constexpr unsigned chunk_bytes = 1u << 24;              // per gzread call
constexpr unsigned gz_buffer_bytes = 1u << 20;          // zlib's internal buffer
constexpr uint64_t reserve_bytes = uint64_t(1) << 28;   // trusted from a header up front
constexpr uint64_t max_data_bytes = uint64_t(1) << 40;  // larger headers are corrupt

/// Closes a gzFile when it goes out of scope (reading only; writers close explicitly to check).
struct gz_closer {
  gzFile f;
  ~gz_closer() {
    if (f != nullptr) gzclose(f);
  }
};

error_message fail(const std::string& path, const std::string& what) {
  return error_message{"IDX file " + path + ": " + what};
}

/// Reads up to n bytes; returns how many were read, or -1 on a read (e.g. corrupt gzip) error.
int64_t read_fully(gzFile f, uint8_t* out, uint64_t n) {
  uint64_t done = 0;
  while (done < n) {
    const unsigned want = unsigned(std::min<uint64_t>(n - done, chunk_bytes));
    const int got = gzread(f, out + done, want);
    if (got < 0) return -1;
    if (got == 0) break;
    done += uint64_t(got);
  }
  return int64_t(done);
}

std::string gz_error_text(gzFile f) {
  int code = 0;
  const char* text = gzerror(f, &code);
  return code == Z_ERRNO ? std::string(std::strerror(errno)) : std::string(text);
}

}  // namespace

result<idx_array> read_idx(const std::string& path) {
  auto r = read_idx_prefix(path, 0);
  if (!r) return error_message{r.error()};
  return std::move(r->kept);
}

result<idx_prefix> read_idx_prefix(const std::string& path, uint64_t max_items) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return fail(path, "file not found");
  if (std::filesystem::is_directory(path, ec)) return fail(path, "is a folder, not a file");
  gz_closer in{gzopen(path.c_str(), "rb")};
  if (in.f == nullptr) return fail(path, std::string("cannot open: ") + std::strerror(errno));
  gzbuffer(in.f, gz_buffer_bytes);

  // Header: two zero bytes, the type code, the rank, then rank big-endian uint32 dimensions.
  uint8_t magic[4];
  const int64_t got_magic = read_fully(in.f, magic, 4);
  if (got_magic < 0) return fail(path, "read error: " + gz_error_text(in.f));
  if (got_magic < 4) return fail(path, "truncated: shorter than the 4-byte magic number");
  if (magic[0] != 0 || magic[1] != 0) {
    return fail(path,
                "bad magic number (expected two zero bytes, a type code and a rank; is it "
                "an IDX file?)");
  }
  if (magic[2] != ubyte_type) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", unsigned(magic[2]));
    return fail(path, std::string("unsupported type code ") + code +
                          " (only unsigned bytes, 0x08, are supported)");
  }
  const unsigned rank = magic[3];

  idx_array a;
  a.dims.resize(rank);
  std::vector<uint8_t> header(4 * size_t(rank));
  const int64_t got_header = read_fully(in.f, header.data(), header.size());
  if (got_header < 0) return fail(path, "read error: " + gz_error_text(in.f));
  if (got_header < int64_t(header.size())) {
    return fail(path, "truncated: header ends before its " + std::to_string(rank) + " dimensions");
  }
  uint64_t count = 1;
  for (unsigned d = 0; d < rank; ++d) {
    const uint8_t* b = &header[4 * size_t(d)];
    a.dims[d] = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
    if (a.dims[d] != 0 && count > max_data_bytes / a.dims[d]) {
      return fail(path, "size mismatch: dimensions give more than " +
                            std::to_string(max_data_bytes) + " bytes (corrupt header?)");
    }
    count *= a.dims[d];
  }
  const uint32_t stored_items = rank > 0 ? a.dims[0] : 1;
  const bool whole = max_items == 0 || rank == 0 || max_items >= a.dims[0];
  if (!whole) {
    count = count / a.dims[0] * max_items;
    a.dims[0] = uint32_t(max_items);
  }

  // Grow while reading rather than trusting the header with one huge allocation: a corrupt or
  // truncated file then fails on its real length.
  a.data.reserve(std::min<uint64_t>(count, reserve_bytes));
  uint64_t done = 0;
  while (done < count) {
    const uint64_t n = std::min<uint64_t>(count - done, chunk_bytes);
    a.data.resize(done + n);
    const int64_t got = read_fully(in.f, a.data.data() + done, n);
    if (got < 0) return fail(path, "read error: " + gz_error_text(in.f));
    done += uint64_t(got);
    if (uint64_t(got) < n) {
      return fail(path, "truncated: dimensions promise " + std::to_string(count) +
                            " data bytes, file holds " + std::to_string(done));
    }
  }
  if (!whole) return idx_prefix{std::move(a), stored_items};
  uint8_t extra = 0;
  const int64_t got_extra = read_fully(in.f, &extra, 1);
  if (got_extra < 0) return fail(path, "read error: " + gz_error_text(in.f));
  if (got_extra > 0) {
    return fail(
        path, "size mismatch: more data than the dimensions' " + std::to_string(count) + " bytes");
  }
  return idx_prefix{std::move(a), stored_items};
}

result<bool> write_idx(const std::string& path, const idx_array& a, bool gzip) {
  if (a.dims.size() > 255) return fail(path, "cannot write: rank above 255");
  uint64_t count = 1;
  for (uint32_t d : a.dims) count *= d;
  if (count != a.data.size()) {
    return fail(path, "cannot write: size mismatch, dimensions give " + std::to_string(count) +
                          " bytes but data holds " + std::to_string(a.data.size()));
  }
  // "T" makes zlib write plain bytes, so both forms share one code path.
  gzFile out = gzopen(path.c_str(), gzip ? "wb6" : "wbT");
  if (out == nullptr) return fail(path, std::string("cannot create: ") + std::strerror(errno));
  gzbuffer(out, gz_buffer_bytes);

  std::vector<uint8_t> header{0, 0, ubyte_type, uint8_t(a.dims.size())};
  for (uint32_t d : a.dims) {
    header.insert(header.end(), {uint8_t(d >> 24), uint8_t(d >> 16), uint8_t(d >> 8), uint8_t(d)});
  }
  bool ok = gzwrite(out, header.data(), unsigned(header.size())) == int(header.size());
  for (uint64_t done = 0; ok && done < count;) {
    const unsigned n = unsigned(std::min<uint64_t>(count - done, chunk_bytes));
    ok = gzwrite(out, a.data.data() + done, n) == int(n);
    done += n;
  }
  std::string why = ok ? std::string() : gz_error_text(out);
  if (gzclose(out) != Z_OK && ok) {
    ok = false;
    why = "error on close";
  }
  if (!ok) return fail(path, "write failed: " + why);
  return true;
}

}  // namespace baffle
