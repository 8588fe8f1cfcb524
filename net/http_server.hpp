// A small read-only HTTP/1.1 server on a thread of its own (Boost.Asio + Boost.Beast, kept inside
// http_server.cpp): bounded connections, request size and time, and a way for other threads to
// hand it work without waiting. The live monitor (actors/monitor.hpp) is its one user.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/result.hpp"

namespace baffle {

/// What a handler sees of a request: only GET requests in origin form (the target starts with
/// '/') that parsed and fit the limits reach it.
struct http_request {
  std::string target;  ///< as sent, e.g. "/rounds?since=3"
  std::string path;    ///< the target before '?', percent-decoded; starts with '/'
  std::map<std::string, std::string> query;  ///< "a=1&b=x" -> {a: 1, b: x}, percent-decoded
};

/// A handler's answer.
struct http_response {
  http_response(int status_code = 200, std::string type = "text/plain; charset=utf-8",
                std::string text = {})
      : status(status_code), content_type(std::move(type)), body(std::move(text)) {}
  int status;
  std::string content_type;
  std::string body;
  std::string location;  ///< for redirects (301): the Location header
};

/// Bounds that keep a slow, stuck or hostile client from holding more than its share.
struct http_limits {
  size_t max_connections = 32;     ///< beyond: the new connection gets 503 and is closed
  size_t max_header_bytes = 8192;  ///< request line and fields; beyond: 431
  size_t max_body_bytes = 1024;    ///< a GET needs none; beyond: 413
  /// To receive one whole request (from the connection's start or the previous answer); then
  /// the connection is closed. Also how long an idle keep-alive connection stays open.
  std::chrono::milliseconds request_timeout{10000};
  /// To send one answer; a client that does not read is disconnected after it.
  std::chrono::milliseconds write_timeout{10000};
};

/// An HTTP server bound to one address, serving on its own thread until stopped or destroyed.
/// Handlers and posted functions all run on that thread, one at a time, so the state they share
/// needs no lock.
class http_server {
 public:
  using handler = std::function<http_response(const http_request&)>;

  /// Binds host:port (a numeric IPv4/IPv6 address or "localhost"; port 0 picks a free one) and
  /// starts serving. The error says what could not be done (e.g. the port is taken).
  static result<std::unique_ptr<http_server>> start(const std::string& host, uint16_t port,
                                                    handler h, http_limits limits = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The address and port it listens on (the chosen one when port 0 was asked for).
  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  /// "http://HOST:PORT/" (IPv6 hosts in brackets).
  std::string url() const;

  /// Runs f on the server's thread after what is already queued; returns at once, never waiting
  /// for a client. Nothing runs after stop().
  void post(std::function<void()> f);

  /// Closes the listening socket and every connection and joins the thread; idempotent.
  void stop();

 private:
  struct impl;
  http_server(std::unique_ptr<impl> p, std::string host, uint16_t port);
  std::unique_ptr<impl> impl_;
  std::string host_;
  uint16_t port_ = 0;
};

/// What a connection that receives `bytes` and then the end of the stream is sent back: each
/// request parsed and answered exactly as a connection of http_server does it (same parser,
/// limits, status codes and headers), in order, until the connection would close or the bytes run
/// out. No socket and no thread: the handler runs on the caller's. For tests and the fuzz target.
struct http_exchange {
  std::string sent;         ///< every answer's bytes as written to the socket, in order
  std::vector<int> status;  ///< each answer's status code
  bool closed = false;      ///< the last answer closes the connection
};
http_exchange answer_bytes(std::string_view bytes, const http_server::handler& h,
                           const http_limits& limits = {});

/// Whether host (a numeric IPv4/IPv6 address, or "localhost") is a loopback address; nullopt if
/// it is not an address.
std::optional<bool> is_loopback_address(const std::string& host);

/// "%41" -> "A", "+" -> " "; a malformed escape stays as written.
std::string percent_decode(std::string_view text);

}  // namespace baffle
