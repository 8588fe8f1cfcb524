// The HTTP server (see http_server.hpp): the only translation unit that includes Boost.Beast.
// One io_context on one thread runs the acceptor, every connection and every posted function;
// all socket work is asynchronous, so a client that stops reading or writing holds a connection
// slot until its timeout and nothing else.
#include "net/http_server.hpp"

#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace baffle {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string percent_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<bool> is_loopback_address(const std::string& host) {
  if (host == "localhost") return true;
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return address.is_loopback();
}

namespace {

/// Splits a request target into its decoded path and query parameters.
void split_target(std::string_view target, http_request& req) {
  const size_t q = target.find('?');
  req.path = percent_decode(target.substr(0, q));
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    if (!pair.empty()) {
      req.query[percent_decode(pair.substr(0, eq))] =
          eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
}

/// Connections open now; shared with the sessions, which may be destroyed with the io_context.
struct connection_count {
  size_t open = 0;
};

http::response<http::string_body> make_response(const http_response& r, unsigned version,
                                                bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "baffle-monitor");
  res.set(http::field::content_type, r.content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  if (!r.location.empty()) res.set(http::field::location, r.location);
  res.keep_alive(keep_alive);
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

http_response plain(int status, std::string text) {
  return {status, "text/plain; charset=utf-8", std::move(text) + "\n"};
}

using request_parser = http::request_parser<http::string_body>;
using response = http::response<http::string_body>;

/// A fresh parser for one request, within the limits.
void start_request(std::optional<request_parser>& parser, const http_limits& limits) {
  parser.emplace();
  parser->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser->body_limit(limits.max_body_bytes);
}

/// A connection's read buffer: a request line and headers beyond it are refused (431).
size_t read_buffer_bytes(const http_limits& limits) {
  return limits.max_header_bytes + limits.max_body_bytes + 1024;
}

/// The answer to a read of one request that ended with ec (the parser holds what was read), or
/// nothing when there is nobody to answer: the client went away, timed out or stopped mid-request.
std::optional<response> answer_read(beast::error_code ec, const request_parser& parser,
                                    const http_server::handler& h) {
  if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
    return make_response(plain(431, "request header fields too large"), 11, false);
  }
  if (ec == http::error::body_limit) {
    return make_response(plain(413, "request body too large (a GET needs none)"), 11, false);
  }
  // Any other parser error is a malformed request; end of stream, a request cut short and
  // timeouts leave nobody to answer.
  const bool parse_error =
      ec && ec.category() == http::make_error_code(http::error::bad_method).category();
  if (parse_error && ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return make_response(plain(400, "malformed request: " + ec.message()), 11, false);
  }
  if (ec) return std::nullopt;
  const auto& req = parser.get();
  // Answer as HTTP/1.1, or 1.0 to a request of an older version.
  const unsigned version = req.version() >= 11 ? 11 : 10;
  if (req.method() != http::verb::get) {
    return make_response(plain(405, "only GET is served (this is read-only telemetry)"), version,
                         false);
  }
  // Only paths (origin form): not "*", "http://host/path" or "?query", so a handler's path
  // always starts with '/'.
  if (req.target().empty() || req.target().front() != '/') {
    return make_response(plain(400, "the request target must be a path, e.g. /status"), version,
                         false);
  }
  http_request r;
  r.target = std::string(req.target());
  split_target(r.target, r);
  http_response out;
  try {
    out = h(r);
  } catch (const std::exception& e) {
    out = plain(500, std::string("internal error: ") + e.what());
  }
  return make_response(out, version, req.keep_alive());
}

/// One client connection: read a request, answer it, repeat while the client keeps it alive.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, const http_server::handler& h, const http_limits& limits,
          std::shared_ptr<connection_count> count)
      : stream_(std::move(socket)),
        handler_(h),
        limits_(limits),
        count_(std::move(count)),
        buffer_(read_buffer_bytes(limits)) {
    ++count_->open;
  }
  ~session() { --count_->open; }

  void start() { read(); }

 private:
  void read() {
    start_request(parser_, limits_);
    stream_.expires_after(limits_.request_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    std::optional<response> res = answer_read(ec, *parser_, handler_);
    if (!res) return close();
    res_ = std::move(*res);
    stream_.expires_after(limits_.write_timeout);
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->res_.keep_alive()) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  const http_server::handler& handler_;
  const http_limits& limits_;
  std::shared_ptr<connection_count> count_;
  beast::flat_buffer buffer_;
  std::optional<request_parser> parser_;
  response res_;
};

/// Bytes in memory read as a stream that then ends (a Beast SyncReadStream).
class bytes_stream {
 public:
  explicit bytes_stream(std::string_view bytes) : rest_(bytes) {}

  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    ec = {};
    if (rest_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    const size_t n = asio::buffer_copy(buffers, asio::buffer(rest_.data(), rest_.size()));
    rest_.remove_prefix(n);
    return n;
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  std::string_view rest_;
};

}  // namespace

struct http_server::impl {
  impl(handler h, http_limits l) : handler_(std::move(h)), limits_(l), acceptor_(ioc_) {}

  void accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      if (!ec) {
        if (count_->open >= limits_.max_connections) {
          refuse(std::move(socket));
        } else {
          std::make_shared<session>(std::move(socket), handler_, limits_, count_)->start();
        }
      }
      accept();
    });
  }

  /// Over the connection limit: a best-effort 503 that never waits, then close.
  static void refuse(tcp::socket socket) {
    static constexpr char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    beast::error_code ec;
    socket.non_blocking(true, ec);
    // Read what has arrived so the close is less likely to be a reset that loses the answer.
    char sink[4096];
    socket.read_some(asio::buffer(sink), ec);
    socket.write_some(asio::buffer(busy, sizeof(busy) - 1), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  handler handler_;
  http_limits limits_;
  std::shared_ptr<connection_count> count_ = std::make_shared<connection_count>();
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  std::thread thread_;
  bool stopped_ = false;
};

result<std::unique_ptr<http_server>> http_server::start(const std::string& host, uint16_t port,
                                                        handler h, http_limits limits) {
  const std::string where = host + ":" + std::to_string(port);
  beast::error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return error_message{"cannot listen on " + where + ": '" + host +
                         "' is not a numeric IPv4 or IPv6 address (or localhost)"};
  }
  auto p = std::make_unique<impl>(std::move(h), limits);
  const tcp::endpoint endpoint{address, port};
  auto fail = [&](const char* step) {
    return error_message{"cannot listen on " + where + " (" + step + "): " + ec.message(),
                         error_kind::bad_input};
  };
  p->acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  p->acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("reuse_address");
  p->acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  p->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  const uint16_t bound = p->acceptor_.local_endpoint(ec).port();
  if (ec) return fail("local_endpoint");
  p->accept();
  impl* raw = p.get();
  p->thread_ = std::thread([raw] { raw->ioc_.run(); });
  return std::unique_ptr<http_server>(new http_server(std::move(p), address.to_string(), bound));
}

http_exchange answer_bytes(std::string_view bytes, const http_server::handler& h,
                           const http_limits& limits) {
  http_exchange out;
  bytes_stream stream(bytes);
  beast::flat_buffer buffer(read_buffer_bytes(limits));
  std::optional<request_parser> parser;
  for (;;) {
    start_request(parser, limits);
    beast::error_code ec;
    http::read(stream, buffer, *parser, ec);
    const std::optional<response> res = answer_read(ec, *parser, h);
    if (!res) break;
    std::ostringstream text;
    text << *res;
    out.sent += text.str();
    out.status.push_back(static_cast<int>(res->result_int()));
    if (!res->keep_alive()) {
      out.closed = true;
      break;
    }
  }
  return out;
}

http_server::http_server(std::unique_ptr<impl> p, std::string host, uint16_t port)
    : impl_(std::move(p)), host_(std::move(host)), port_(port) {}

http_server::~http_server() {
  stop();
}

std::string http_server::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_) + "/";
}

void http_server::post(std::function<void()> f) {
  asio::post(impl_->ioc_, std::move(f));
}

void http_server::stop() {
  if (!impl_ || impl_->stopped_) return;
  impl_->stopped_ = true;
  // Closing the acceptor ends the accept loop; stopping the context abandons every pending
  // read and write (their sessions are destroyed with the context, closing their sockets).
  asio::post(impl_->ioc_, [p = impl_.get()] {
    beast::error_code ec;
    p->acceptor_.close(ec);
    p->ioc_.stop();
  });
  if (impl_->thread_.joinable()) impl_->thread_.join();
}

}  // namespace baffle
