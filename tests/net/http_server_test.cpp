// Tests for net/http_server.hpp over real loopback connections: answers, the request limits
// (400, 405, 413, 431, 503), posted work running in order on the server's thread, clients that
// stall, and binding errors.
#include "net/http_server.hpp"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <thread>

#include "tests/net/http_client.hpp"

namespace baffle {
namespace {

using test::http_get;
using test::loopback_socket;
using test::parse_answer;
using test::send_and_read;

/// A server on a free loopback port that echoes the decoded path and query.
std::unique_ptr<http_server> echo_server(http_limits limits = {}) {
  auto s = http_server::start(
      "127.0.0.1", 0,
      [](const http_request& r) {
        if (r.path == "/missing") return http_response{404, "text/plain", "nope"};
        std::string body = "path=" + r.path;
        for (const auto& [k, v] : r.query) body += " " + k + "=" + v;
        return http_response{200, "text/plain", body};
      },
      limits);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error());
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(HttpServer, PortZeroPicksAFreePortAndAnswersGet) {
  auto s = echo_server();
  ASSERT_TRUE(s);
  EXPECT_NE(s->port(), 0);
  EXPECT_EQ(s->url(), "http://127.0.0.1:" + std::to_string(s->port()) + "/");
  const auto a = http_get(s->port(), "/a%20b?since=3&x=y+z");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "path=/a b since=3 x=y z");
  EXPECT_NE(a.headers.find("Cache-Control: no-store"), std::string::npos);
  EXPECT_EQ(http_get(s->port(), "/missing").status, 404);
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto s = echo_server();
  ASSERT_TRUE(s);
  const std::string raw =
      send_and_read(s->port(),
                    "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(raw.find("path=/one"), std::string::npos) << raw;
  EXPECT_NE(raw.find("path=/two"), std::string::npos) << raw;
}

TEST(HttpServer, MalformedAndOversizedRequestsGetTheirStatusCodes) {
  http_limits limits;
  limits.max_header_bytes = 1024;
  auto s = echo_server(limits);
  ASSERT_TRUE(s);
  const uint16_t p = s->port();
  EXPECT_EQ(parse_answer(send_and_read(p, "this is not http\r\n\r\n")).status, 400);
  EXPECT_EQ(parse_answer(send_and_read(p, "GET / HTTP/9.9\r\n\r\n")).status, 400);
  EXPECT_EQ(parse_answer(send_and_read(p, "GET / HTTP/1.1\r\nBad Header\r\n\r\n")).status, 400);
  EXPECT_EQ(
      parse_answer(send_and_read(p, "GET /" + std::string(4000, 'a') + " HTTP/1.1\r\n\r\n")).status,
      431);
  EXPECT_EQ(parse_answer(
                send_and_read(p, "GET / HTTP/1.1\r\nX-Big: " + std::string(4000, 'b') + "\r\n\r\n"))
                .status,
            431);
  EXPECT_EQ(
      parse_answer(send_and_read(p, "GET / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")).status,
      413);
  EXPECT_EQ(parse_answer(send_and_read(p, "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")).status,
            405);
  // The server still answers normally afterwards.
  EXPECT_EQ(http_get(p, "/fine").body, "path=/fine");
}

TEST(HttpServer, ConnectionsBeyondTheLimitGet503WhileStalledOnesDoNotBlockOthers) {
  http_limits limits;
  limits.max_connections = 2;
  auto s = echo_server(limits);
  ASSERT_TRUE(s);
  // Two kept-alive connections, each answered once (so both hold a slot), then stalled halfway
  // through their next request.
  loopback_socket a(s->port()), b(s->port());
  for (loopback_socket* c : {&a, &b}) {
    ASSERT_TRUE(c->send_all("GET /first HTTP/1.1\r\nHost: x\r\n\r\n"));
    char buf[512];
    ASSERT_GT(::recv(c->fd(), buf, sizeof(buf), 0), 0);
    ASSERT_TRUE(c->send_all("GET / HTTP/1.1\r\nHost:"));
  }
  // A third connection is refused with 503 at once (it sends nothing, so the close is clean).
  loopback_socket third(s->port());
  EXPECT_EQ(parse_answer(third.read_all()).status, 503);
}

TEST(HttpServer, AStalledRequestTimesOutAndFreesItsSlot) {
  http_limits limits;
  limits.max_connections = 1;
  limits.request_timeout = std::chrono::milliseconds(200);
  auto s = echo_server(limits);
  ASSERT_TRUE(s);
  loopback_socket a(s->port());
  ASSERT_TRUE(a.send_all("GET / HTTP/1.1\r\nHost:"));
  // The server closes the stalled connection when its time is up: read_all returns then.
  EXPECT_EQ(a.read_all(), "");
  EXPECT_EQ(http_get(s->port(), "/after").body, "path=/after");
}

TEST(HttpServer, PostedFunctionsRunInOrderOnTheServerThread) {
  auto s = echo_server();
  ASSERT_TRUE(s);
  std::vector<int> seen;  // touched only on the server thread until the promise is set
  std::thread::id where;
  for (int i = 0; i < 100; ++i) s->post([&seen, i] { seen.push_back(i); });
  std::promise<void> done;
  s->post([&] {
    where = std::this_thread::get_id();
    done.set_value();
  });
  done.get_future().wait();
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_NE(where, std::this_thread::get_id());
}

TEST(HttpServer, StopReturnsWithConnectionsOpenAndAClientThatDoesNotRead) {
  auto s = echo_server();
  ASSERT_TRUE(s);
  loopback_socket idle(s->port());
  loopback_socket flood(s->port());
  ASSERT_TRUE(idle.ok() && flood.ok());
  std::string many;
  for (int i = 0; i < 2000; ++i)
    many += "GET /" + std::string(200, 'p') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  flood.send_all(many);  // never reads the answers
  s->stop();
  s->stop();  // idempotent
  SUCCEED();
}

TEST(HttpServer, BindingATakenPortIsAClearError) {
  auto s = echo_server();
  ASSERT_TRUE(s);
  auto again = http_server::start("127.0.0.1", s->port(),
                                  [](const http_request&) { return http_response{}; });
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("cannot listen on 127.0.0.1:" + std::to_string(s->port())),
            std::string::npos)
      << again.error();
  EXPECT_NE(again.error().find("in use"), std::string::npos) << again.error();
  auto bad =
      http_server::start("example.org", 0, [](const http_request&) { return http_response{}; });
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("not a numeric"), std::string::npos) << bad.error();
}

TEST(HttpServer, LoopbackAddressesAreRecognised) {
  EXPECT_EQ(is_loopback_address("127.0.0.1"), std::optional<bool>(true));
  EXPECT_EQ(is_loopback_address("127.3.2.1"), std::optional<bool>(true));
  EXPECT_EQ(is_loopback_address("::1"), std::optional<bool>(true));
  EXPECT_EQ(is_loopback_address("localhost"), std::optional<bool>(true));
  EXPECT_EQ(is_loopback_address("0.0.0.0"), std::optional<bool>(false));
  EXPECT_EQ(is_loopback_address("192.168.1.2"), std::optional<bool>(false));
  EXPECT_EQ(is_loopback_address("host.example"), std::nullopt);
  EXPECT_EQ(percent_decode("a%2Fb%zz+c%4"), "a/b%zz c%4");
}

}  // namespace
}  // namespace baffle
