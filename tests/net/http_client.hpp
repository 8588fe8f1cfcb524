// A minimal blocking HTTP/1.1 client over POSIX sockets for the monitor's tests: connect to a
// loopback port, send raw bytes, read an answer until the server closes. Deliberately not
// Asio/Beast, so the tests check the server against an independent client.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace baffle::test {

/// A connected TCP socket to 127.0.0.1:port (closed on destruction), with a receive timeout so a
/// broken server fails the test instead of hanging it.
class loopback_socket {
 public:
  explicit loopback_socket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    timeval tv{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~loopback_socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  loopback_socket(const loopback_socket&) = delete;
  loopback_socket& operator=(const loopback_socket&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send_all(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  /// Everything until the server closes the connection (or the 30 s receive timeout).
  std::string read_all() {
    std::string out;
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

/// A parsed answer: status code, the header block and the body.
struct http_answer {
  int status = 0;
  std::string headers;
  std::string body;
};

inline http_answer parse_answer(const std::string& raw) {
  http_answer a;
  const size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return a;
  a.status = std::stoi(raw.substr(9, 3));
  a.headers = raw.substr(0, end);
  a.body = raw.substr(end + 4);
  return a;
}

/// Sends raw request bytes on a new connection and returns what came back before the server
/// closed it.
inline std::string send_and_read(uint16_t port, const std::string& request) {
  loopback_socket s(port);
  if (!s.ok() || !s.send_all(request)) return {};
  return s.read_all();
}

/// GET target with "Connection: close".
inline http_answer http_get(uint16_t port, const std::string& target) {
  return parse_answer(send_and_read(
      port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
}

}  // namespace baffle::test
