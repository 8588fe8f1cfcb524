// The registry that admits workers into a served run, and what both sides compute for a join.
#include "actors/join.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "net/hash.hpp"

namespace baffle {

void add_join_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<join_hello>("baffle.join_hello");
  cfg.add_message_type<join_challenge>("baffle.join_challenge");
  cfg.add_message_type<join_request>("baffle.join_request");
  cfg.add_message_type<join_offer>("baffle.join_offer");
  cfg.add_message_type<join_ready>("baffle.join_ready");
  cfg.add_message_type<std::vector<node_actor>>("baffle.node_list");
  cfg.add_message_type<std::vector<uint32_t>>("baffle.u32_list");
}

namespace {

std::string hex(const unsigned char* bytes, size_t n) {
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", bytes[i]);
  return out;
}

std::string fresh_nonce() {
  std::random_device rd;  // not part of any result: a nonce only has to be unpredictable
  unsigned char bytes[16];
  for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  return hex(bytes, sizeof(bytes));
}

bool same_text(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

caf::error refuse(registry_actor::stateful_pointer<registry_state> self, const std::string& why) {
  if (self->state.cfg.log) self->state.cfg.log("refused a worker: " + why);
  return caf::make_error(caf::sec::invalid_argument, "refused: " + why);
}

}  // namespace

std::string join_proof(const std::string& secret, const std::string& nonce) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(nonce.data()), nonce.size(), out, &len);
  return hex(out, len);
}

std::string data_digest(const world& w) {
  uint64_t h = fnv1a_basis;
  for (const dataset* d : {&w.data.train, &w.data.test}) {
    h = fnv1a(std::as_bytes(std::span(d->pixels)), h);
    h = fnv1a(std::as_bytes(std::span(d->labels)), h);
  }
  return fmt::format("{:016x}", h);
}

namespace {

/// The first `workers` are ready: hand them to whoever waits to start the run.
void hand_over(registry_actor::stateful_pointer<registry_state> self) {
  auto& s = self->state;
  s.started = true;
  const std::vector<node_actor> first(s.ready.begin(), s.ready.begin() + s.cfg.workers);
  for (auto& p : s.waiting) p.deliver(first);
  s.waiting.clear();
}

}  // namespace

registry_actor::behavior_type registry_behavior(
    registry_actor::stateful_pointer<registry_state> self, registry_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.cfg.max_workers = std::max(st.cfg.max_workers, st.cfg.workers);
  // A worker that goes away between its offer and its ready message gives its id back.
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& s = self->state;
    for (uint32_t i = 0; i < s.offered.size(); ++i) {
      if (s.offered[i] == 1 && s.holder[i] == dm.source) {
        s.offered[i] = 0;
        s.holder[i] = caf::actor_addr{};
        if (s.cfg.log)
          s.cfg.log(fmt::format("a worker left before its node {} was ready", s.cfg.first_id + i));
      }
    }
  });
  return {
      [self](const join_hello&) -> join_challenge {
        auto& s = self->state;
        // Bounded: a peer that only says hello cannot grow the set without limit.
        if (s.nonces.size() >= 1024) s.nonces.erase(s.nonces.begin());
        std::string nonce = fresh_nonce();
        s.nonces.insert(nonce);
        return {nonce};
      },
      [self](const join_request& r) -> caf::result<join_offer> {
        auto& s = self->state;
        const auto it = s.nonces.find(r.nonce);
        if (it == s.nonces.end()) return refuse(self, "unknown or used nonce");
        s.nonces.erase(it);
        if (s.cfg.secret && !same_text(r.proof, join_proof(*s.cfg.secret, r.nonce)))
          return refuse(self, "wrong secret");
        if (r.host.empty() || r.host.size() > 255 ||
            std::any_of(r.host.begin(), r.host.end(), [](char c) { return c <= ' ' || c > '~'; }))
          return refuse(self, "a host name that is empty, too long or not printable");
        if (r.threads < 1 || r.threads > 1024)
          return refuse(self, fmt::format("{} threads (1 to 1024 allowed)", r.threads));
        // The lowest free id: the first `workers` fill before later ones are given out.
        uint32_t i = 0;
        while (i < s.offered.size() && s.offered[i] != 0) ++i;
        if (i == s.cfg.max_workers)
          return refuse(self,
                        fmt::format("the run already has {} workers, its most", s.cfg.max_workers));
        if (i == s.offered.size()) {
          s.offered.push_back(0);
          s.holder.emplace_back();
          s.ready.emplace_back();
          s.hosts.emplace_back();
          s.threads.push_back(0);
        }
        const caf::actor_addr sender =
            self->current_sender() == nullptr
                ? caf::actor_addr{}
                : caf::actor_cast<caf::actor_addr>(self->current_sender());
        s.offered[i] = 1;
        s.holder[i] = sender;
        s.hosts[i] = r.host;
        s.threads[i] = r.threads;
        if (self->current_sender() != nullptr) self->monitor(self->current_sender());
        const uint32_t id = s.cfg.first_id + i;
        // The node count the node starts with: the run's first nodes, or (a later worker) up to
        // its own id; the server sends the real layout before any task that depends on it.
        const uint32_t nodes = std::max(s.cfg.first_id + s.cfg.workers, id + 1);
        return join_offer{id, nodes, s.cfg.scenario, s.cfg.data_digest};
      },
      [self](const join_ready& r) -> caf::result<uint32_t> {
        auto& s = self->state;
        if (r.node < s.cfg.first_id || r.node - s.cfg.first_id >= s.offered.size())
          return refuse(self, fmt::format("node id {} is not one of this run's", r.node));
        const uint32_t i = r.node - s.cfg.first_id;
        const caf::actor_addr sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
        if (s.offered[i] != 1 || s.holder[i] != sender)
          return refuse(self, fmt::format("node id {} was not offered to this worker", r.node));
        if (!same_text(r.data_digest, s.cfg.data_digest))
          return refuse(self, fmt::format("its data set has digest {}, the server's is {}",
                                          r.data_digest, s.cfg.data_digest));
        if (!r.handle) return refuse(self, "no node handle");
        s.offered[i] = 2;
        s.ready[i] = r.handle;
        if (i < s.cfg.workers) {
          s.ready_count += 1;
          if (s.cfg.log)
            s.cfg.log(fmt::format("node {} joined from {} ({} of {} workers)", r.node, s.hosts[i],
                                  s.ready_count, s.cfg.workers));
          if (s.ready_count == s.cfg.workers) hand_over(self);
          return r.node;
        }
        // A later worker joins the running run through the server.
        node_joined joined{r.node, r.handle, s.hosts[i], s.threads[i]};
        if (s.cfg.log)
          s.cfg.log(
              fmt::format("node {} joined from {} after the start; it takes clients from "
                          "the next round",
                          r.node, s.hosts[i]));
        if (s.server) {
          self->send(s.server, std::move(joined));
        } else {
          s.later.push_back(std::move(joined));
        }
        return r.node;
      },
      [self](hosts_atom) -> std::vector<std::string> {
        auto& s = self->state;
        return {s.hosts.begin(), s.hosts.begin() + std::min<size_t>(s.hosts.size(), s.cfg.workers)};
      },
      [self](threads_atom) -> std::vector<uint32_t> {
        auto& s = self->state;
        return {s.threads.begin(),
                s.threads.begin() + std::min<size_t>(s.threads.size(), s.cfg.workers)};
      },
      [self](nodes_atom) -> caf::typed_response_promise<std::vector<node_actor>> {
        auto& s = self->state;
        auto p = self->make_response_promise<std::vector<node_actor>>();
        s.waiting.push_back(p);
        if (s.started || s.ready_count == s.cfg.workers) hand_over(self);
        return p;
      },
      [self](attach_atom, const server_actor& server) {
        auto& s = self->state;
        s.server = server;
        for (auto& j : s.later) self->send(s.server, std::move(j));
        s.later.clear();
      },
  };
}

}  // namespace baffle
