// baffle serve's registry side and baffle worker (see cluster_command.hpp).
#include "tools/cluster_command.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <caf/io/middleman.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/openssl/remote_actor.hpp>

#include "actors/node.hpp"
#include "scenarios/loader.hpp"
#include "tools/exit_codes.hpp"

namespace baffle {

result<std::pair<std::string, uint16_t>> parse_endpoint(const std::string& text,
                                                        const std::string& what, bool allow_zero) {
  const std::string usage = what + " takes HOST:PORT, e.g. 127.0.0.1:7000" +
                            (allow_zero ? " (port 0 picks a free one)" : "") + ", not '" + text +
                            "'";
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return error_message{usage};
  const std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535 ||
      (value == 0 && !allow_zero))
    return error_message{usage};
  return std::pair{host, static_cast<uint16_t>(value)};
}

result<std::string> read_secret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error_message{"--secret-file " + path + ": cannot read it"};
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return error_message{"--secret-file " + path + ": the file is empty"};
  return secret;
}

result<bool> check_tls(const tls_files& tls) {
  if (!tls.any()) return true;
  for (const auto& [option, path] :
       {std::pair{"--tls-cert", &tls.certificate}, std::pair{"--tls-key", &tls.key},
        std::pair{"--tls-ca", &tls.ca}}) {
    if (path->empty())
      return error_message{std::string("TLS needs --tls-cert, --tls-key and --tls-ca together; ") +
                           option + " is missing"};
    if (!std::ifstream(*path))
      return error_message{std::string(option) + " " + *path + ": cannot read it"};
  }
  return true;
}

runtime::options network_options(int threads, double peer_timeout_s, const tls_files& tls) {
  runtime::options o;
  o.threads = threads;
  o.network = true;
  o.peer_timeout_s = peer_timeout_s;
  o.tls_certificate = tls.certificate;
  o.tls_key = tls.key;
  o.tls_ca = tls.ca;
  return o;
}

namespace {

bool loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

}  // namespace

result<serving> start_serving(runtime& rt, const serve_request& req, const std::string& scenario,
                              const world& w) {
  auto endpoint = parse_endpoint(req.listen, "--listen", true);
  if (!endpoint) return endpoint.failure();
  registry_config cfg;
  if (!req.secret_file.empty()) {
    auto secret = read_secret(req.secret_file);
    if (!secret) return secret.failure();
    cfg.secret = std::move(*secret);
  }
  if (!loopback(endpoint->first) && !cfg.secret && !rt.tls())
    return error_message{"--listen " + req.listen +
                         ": a non-loopback address needs --secret-file or TLS (--tls-cert, "
                         "--tls-key, --tls-ca): workers must prove who they are before they get "
                         "any work"};
  if (!loopback(endpoint->first) && !rt.tls())
    std::cerr << "serve: warning: without TLS, a peer that reaches " << req.listen
              << " can end this process with one malformed message before the secret is checked "
                 "(CAF 0.17.6's decoder throws on it; docs/hardening.md). On a network you do not "
                 "trust, use --tls-cert, --tls-key and --tls-ca."
              << std::endl;
  if (req.workers < 1 || req.workers > 256)
    return error_message{"--workers " + std::to_string(req.workers) + ": 1 to 256 allowed"};
  cfg.workers = static_cast<uint32_t>(req.workers);
  cfg.first_id = req.local ? 1 : 0;
  cfg.scenario = scenario;
  cfg.data_digest = data_digest(w);
  cfg.log = [](const std::string& line) { std::cerr << "serve: " << line << std::endl; };
  auto registry = rt.system().spawn(registry_behavior, std::move(cfg));
  auto port = rt.tls()
                  ? caf::openssl::publish(registry, endpoint->second, endpoint->first.c_str(), true)
                  : rt.system().middleman().publish(registry, endpoint->second,
                                                    endpoint->first.c_str(), true);
  if (!port) {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    return error_message{"--listen " + req.listen +
                         ": cannot listen there: " + rt.system().render(port.error())};
  }
  std::printf("listening on %s:%u%s\n", endpoint->first.c_str(), static_cast<unsigned>(*port),
              rt.tls() ? " (TLS)" : "");
  std::fflush(stdout);
  return serving{registry, endpoint->first, *port};
}

joined_workers wait_for_workers(runtime& rt, const serving& s) {
  caf::scoped_actor self{rt.system()};
  joined_workers out;
  const auto on_error = [&](caf::error& e) {
    std::cerr << "serve: " << rt.system().render(e) << "\n";
  };
  self->request(s.registry, caf::infinite, nodes_atom::value)
      .receive([&](std::vector<node_actor>& n) { out.nodes = std::move(n); }, on_error);
  self->request(s.registry, caf::infinite, hosts_atom::value)
      .receive([&](std::vector<std::string>& h) { out.hosts = std::move(h); }, on_error);
  self->request(s.registry, caf::infinite, threads_atom::value)
      .receive([&](std::vector<uint32_t>& t) { out.threads = std::move(t); }, on_error);
  return out;
}

int worker_command(const worker_request& req) {
  const auto endpoint = parse_endpoint(req.connect, "--connect", false);
  if (!endpoint) {
    std::cerr << "error: " << endpoint.error() << "\n";
    return exit_code::bad_input;
  }
  std::string secret;
  if (!req.secret_file.empty()) {
    auto s = read_secret(req.secret_file);
    if (!s) {
      std::cerr << "error: " << s.error() << "\n";
      return exit_code::bad_input;
    }
    secret = std::move(*s);
  }
  if (auto tls = check_tls(req.tls); !tls) {
    std::cerr << "error: " << tls.error() << "\n";
    return exit_code::bad_input;
  }
  const std::string where = req.connect;
  runtime rt(network_options(req.threads, req.peer_timeout_s, req.tls));
  caf::actor_system& sys = rt.system();
  auto registry =
      rt.tls() ? caf::openssl::remote_actor<registry_actor>(sys, endpoint->first, endpoint->second)
               : sys.middleman().remote_actor<registry_actor>(endpoint->first, endpoint->second);
  if (!registry) {
    std::cerr << "error: cannot reach baffle serve at " << where << ": "
              << sys.render(registry.error()) << "\n";
    return exit_code::failed;
  }
  caf::scoped_actor self{sys};
  std::string failure;
  int code = exit_code::ok;
  const auto on_error = [&](caf::error& e) {
    const caf::message& m = e.context();
    failure =
        m.size() == 1 && m.match_element<std::string>(0) ? m.get_as<std::string>(0) : sys.render(e);
    code = e.code() == static_cast<uint8_t>(caf::sec::invalid_argument) ? exit_code::bad_input
                                                                        : exit_code::failed;
  };
  join_challenge challenge;
  self->request(*registry, caf::infinite, join_hello{static_cast<uint32_t>(req.threads)})
      .receive([&](join_challenge& c) { challenge = std::move(c); }, on_error);
  join_offer offer;
  if (failure.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
      std::snprintf(host, sizeof(host), "unknown");
    join_request r{challenge.nonce, secret.empty() ? "" : join_proof(secret, challenge.nonce),
                   static_cast<uint32_t>(req.threads), host};
    self->request(*registry, caf::infinite, r)
        .receive([&](join_offer& o) { offer = std::move(o); }, on_error);
  }
  if (!failure.empty()) {
    std::cerr << "error: baffle serve at " << where << ": " << failure << "\n";
    return code;
  }
  auto sc = parse_scenario(offer.scenario, "the scenario from " + where);
  if (!sc.ok()) {
    for (const auto& e : sc.errors) std::cerr << "error: " << e.to_string() << "\n";
    std::cerr << "error: the scenario baffle serve sent does not load here (another version?)\n";
    return exit_code::bad_input;
  }
  auto w = build_world(*sc.value);
  if (!w) {
    std::cerr << "error: cannot build the run's world on this machine: " << w.error()
              << "\n(every worker needs the scenario's data files at the same paths)\n";
    return exit_code::bad_input;
  }
  const std::string digest = data_digest(**w);
  if (digest != offer.data_digest) {
    std::cerr << "error: this machine's data set has digest " << digest << ", the server's has "
              << offer.data_digest << ": the data files differ; nothing was computed\n";
    return exit_code::bad_input;
  }
  node_actor node = sys.spawn(node_behavior, offer.node, offer.nodes, *w, &rt.arena(), &rt.pool());
  self->request(*registry, caf::infinite, join_ready{offer.node, node, digest})
      .receive([](uint32_t) {}, on_error);
  if (!failure.empty()) {
    self->send_exit(node, caf::exit_reason::user_shutdown);
    std::cerr << "error: baffle serve at " << where << ": " << failure << "\n";
    return code;
  }
  // On stdout, flushed: a script (or a test) waiting for the worker to have joined reads this.
  std::printf("worker: node %u of %u for %s, %d thread(s); computing for %s\n", offer.node,
              offer.nodes, sc.value->name.c_str(), req.threads, where.c_str());
  std::fflush(stdout);
  // Until the server ends the node (the run is over) or goes away.
  self->monitor(node);
  self->monitor(*registry);
  bool over = false;
  while (!over) {
    self->receive([&](const caf::down_msg& dm) {
      over = true;
      if (dm.source == node.address()) {
        std::cerr << "worker: the run is over (" << sys.render(dm.reason) << ")\n";
        code = exit_code::ok;
      } else {
        std::cerr << "worker: lost baffle serve at " << where << " (" << sys.render(dm.reason)
                  << "); stopping\n";
        self->send_exit(node, caf::exit_reason::user_shutdown);
        code = exit_code::failed;
      }
    });
  }
  return code;
}

}  // namespace baffle
