// Atomic whole-file writes (POSIX open/write/fsync/rename) and the sealed checkpoint container.
#include "net/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace baffle {
namespace {

error_message fail(const std::string& path, const std::string& what) {
  return error_message{path + ": " + what};
}

std::string errno_text(int e) {
  return std::strerror(e);
}

// A fresh name beside `path`, unique within this process (counter) and across processes (pid).
std::string temp_name_for(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

// Makes a completed rename durable. Some file systems cannot fsync a folder (EINVAL): then there
// is nothing more we can do, and the rename itself has happened.
bool sync_folder(const std::string& folder, int& error) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = errno;
    return false;
  }
  const bool ok = ::fsync(fd) == 0 || errno == EINVAL;
  error = errno;
  ::close(fd);
  return ok;
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(char(uint8_t(v >> (8 * i))));
}

uint64_t get_le(std::string_view in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(uint8_t(in[offset + size_t(i)])) << (8 * i);
  return v;
}

// zlib's crc32 takes a uInt length: feed large payloads in chunks.
uint32_t crc32_of(std::string_view bytes) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  constexpr size_t chunk = size_t(1) << 30;
  for (size_t done = 0; done < bytes.size();) {
    const size_t n = std::min(chunk, bytes.size() - done);
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), uInt(n));
    done += n;
  }
  return uint32_t(crc);
}

}  // namespace

result<bool> write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const std::string folder = parent.empty() ? std::string(".") : parent.string();

  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    temp = temp_name_for(path);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;  // on EEXIST (a stale temporary) try the next name
  }
  if (fd < 0) return fail(path, "cannot create temporary file " + temp + ": " + errno_text(errno));

  const auto abandon = [&](const std::string& what) {
    const int e = errno;  // before close and unlink can change it
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    return fail(path, what + ": " + errno_text(e) + " (left unchanged)");
  };
  if (!write_all(fd, bytes)) return abandon("cannot write temporary file " + temp);
  if (::fsync(fd) != 0) return abandon("cannot fsync temporary file " + temp);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) return abandon("cannot close temporary file " + temp);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return abandon("cannot rename " + temp + " over it");
  }

  int error = 0;
  if (!sync_folder(folder, error)) {
    return fail(path, "written, but cannot fsync folder " + folder + ": " + errno_text(error) +
                          " (the new file may not survive a power cut)");
  }
  return true;
}

result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path, "cannot open: " + errno_text(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return fail(path, "read error");
  return bytes;
}

result<bool> truncate_file(const std::string& path, uint64_t size) {
  std::error_code ec;
  std::filesystem::resize_file(path, size, ec);
  if (ec) {
    return fail(path, "cannot truncate to " + std::to_string(size) + " bytes: " + ec.message());
  }
  return true;
}

std::string seal(std::string_view payload) {
  std::string out;
  out.reserve(sealed_header_bytes + payload.size());
  out.append(sealed_magic);
  put_le(out, sealed_format_version, 4);
  put_le(out, payload.size(), 8);
  put_le(out, crc32_of(payload), 4);
  out.append(payload);
  return out;
}

result<std::string> unseal(std::string_view sealed) {
  const auto bad = [](const std::string& what) { return error_message{"checkpoint: " + what}; };
  // A prefix of the magic is a truncated checkpoint, anything else is not a checkpoint at all.
  if (!sealed.starts_with(sealed_magic) && !sealed_magic.starts_with(sealed)) {
    return bad("bad magic: not a baffle checkpoint (expected \"BAFFLECK\")");
  }
  if (sealed.size() < sealed_header_bytes) {
    return bad("truncated: " + std::to_string(sealed.size()) + " bytes, the header needs " +
               std::to_string(sealed_header_bytes));
  }
  const uint64_t version = get_le(sealed, 8, 4);
  if (version != sealed_format_version) {
    return bad("unsupported format version " + std::to_string(version) + " (this build reads " +
               std::to_string(sealed_format_version) + ")");
  }
  const uint64_t size = get_le(sealed, 12, 8);
  const uint64_t present = sealed.size() - sealed_header_bytes;
  if (present < size) {
    return bad("truncated: header promises " + std::to_string(size) + " payload bytes, " +
               std::to_string(present) + " present");
  }
  if (present > size) {
    return bad("trailing bytes: header promises " + std::to_string(size) + " payload bytes, " +
               std::to_string(present) + " present");
  }
  const std::string_view payload = sealed.substr(sealed_header_bytes);
  const uint32_t stored_crc = uint32_t(get_le(sealed, 20, 4));
  if (crc32_of(payload) != stored_crc) return bad("CRC mismatch: the payload is corrupt");
  return std::string(payload);
}

}  // namespace baffle
