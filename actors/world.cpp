// Loading a scenario's data and building the world from it; evaluation and model digests.
#include "actors/world.hpp"

#include "actors/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include <tbb/parallel_for.h>

#include "actors/protocol.hpp"
#include "models/cifar.hpp"
#include "models/compute.hpp"
#include "models/partition.hpp"
#include "models/philox.hpp"
#include "models/synthetic.hpp"
#include "net/hash.hpp"

namespace baffle {

data_source data_source_of(const scenario& sc) {
  const data_config& d = sc.data;
  switch (d.dataset) {
    case dataset_kind::synthetic: {
      synthetic_spec spec;
      spec.kind = d.synthetic;
      spec.train = d.synthetic_train;
      spec.test = d.synthetic_test;
      spec.noise = d.synthetic_noise;
      spec.seed = derive_seed(sc.seed, purpose::init, 1);
      return spec;
    }
    case dataset_kind::cifar10:
      return cifar10_folder{d.path, d.train_subset, d.test_subset};
    case dataset_kind::fashion_mnist:
    case dataset_kind::mnist:
      break;
  }
  return idx_folder{d.path, d.train_subset, d.test_subset};
}

result<train_test> load_data(const data_source& source) {
  struct loader {
    result<train_test> operator()(const idx_folder& f) const {
      return load_mnist_folder(f.path, f.train_subset, f.test_subset);
    }
    result<train_test> operator()(const cifar10_folder& f) const {
      auto data = load_cifar10_folder(f.path, f.train_subset, f.test_subset);
      if (!data) return error_message{data.error()};
      return train_test{std::move(data->train), std::move(data->test)};
    }
    result<train_test> operator()(const synthetic_spec& s) const { return make_synthetic(s); }
  };
  return std::visit(loader{}, source);
}

result<std::shared_ptr<const world>> build_world(const scenario& sc) {
  auto data = load_data(data_source_of(sc));
  if (!data) return error_message{data.error()};
  return build_world(sc, std::move(*data));
}

result<std::shared_ptr<const world>> build_world(const scenario& sc, train_test data) {
  auto w = std::make_shared<world>();
  w->sc = sc;
  w->data = std::move(data);
  prefer_huge_pages(w->data.train);
  w->norm = measure_normalization(w->data.train);

  const int n_clients = sc.clients.count;
  const uint64_t split_seed = derive_seed(sc.seed, purpose::partition, 0);
  const auto& dc = sc.data;
  switch (dc.partition) {
    case partition_kind::dirichlet:
      w->parts = partition_dirichlet(w->data.train, n_clients, dc.validation_fraction,
                                     dc.dirichlet_alpha, split_seed);
      break;
    case partition_kind::shards:
      w->parts = partition_shards(w->data.train, n_clients, dc.validation_fraction,
                                  dc.shards_per_client, split_seed);
      break;
    case partition_kind::quantity:
      w->parts = partition_quantity(w->data.train, n_clients, dc.validation_fraction,
                                    dc.dirichlet_alpha, split_seed);
      break;
    case partition_kind::iid:
      w->parts = partition_iid(static_cast<uint32_t>(w->data.train.count), n_clients,
                               dc.validation_fraction, split_seed);
      break;
  }
  for (int c = 0; c < n_clients; ++c) {
    if (w->parts.clients[c].empty()) {
      return error_message{"clients.count = " + std::to_string(n_clients) + " leaves client " +
                           std::to_string(c) + " with no training images (" +
                           std::to_string(w->data.train.count) +
                           " images after data.train_subset and data.validation_fraction); "
                           "use fewer clients or more data"};
    }
  }

  const int rows = w->data.train.rows;
  if (rows != w->data.train.cols) {
    return error_message{"images are " + std::to_string(rows) + "x" +
                         std::to_string(w->data.train.cols) + "; only square images are supported"};
  }
  w->image_size = sc.data.image_size > 0 ? sc.data.image_size : rows;
  if (w->data.train.channels > 1 && w->image_size != rows) {
    return error_message{"data.image_size = " + std::to_string(sc.data.image_size) +
                         ": padding is for single-channel images; the " +
                         std::to_string(w->data.train.channels) + "-channel images are " +
                         std::to_string(rows) + "x" + std::to_string(rows) + " (use 0 or " +
                         std::to_string(rows) + ")"};
  }
  if (w->image_size < rows) {
    return error_message{"data.image_size = " + std::to_string(sc.data.image_size) +
                         " is smaller than the stored images (" + std::to_string(rows) +
                         "); it can only pad, e.g. 32 for 28x28 images as the reference does"};
  }
  auto net = make_network(
      network_spec_of(sc, w->data.train.channels, w->image_size, w->data.train.num_classes));
  if (!net) return error_message{net.error()};
  w->net = std::move(*net);

  // Every client's link and device from the fleet models, each draw on its own stream.
  const link_spec links{sc.clients.link.latency, sc.clients.link.up_bytes_per_sec,
                        sc.clients.link.down_bytes_per_sec, distribution::constant(1.0)};
  for (int c = 0; c < n_clients; ++c) {
    w->uplink.push_back(client_uplink(links, sc.seed, static_cast<uint32_t>(c)));
    w->downlink.push_back(client_downlink(links, sc.seed, static_cast<uint32_t>(c)));
  }
  const auto& cc = sc.clients.compute;
  w->device = device_spec{cc.gflops, cc.spread, cc.stragglers, cc.straggler_slowdown, cc.jitter};
  for (double g : fleet_gflops(w->device, sc.seed, static_cast<uint32_t>(n_clients)))
    w->devices.push_back(device_profile{g});
  w->forward_speed = forward_speed_factor(sc);
  w->failures = failure_spec{sc.clients.dropout};
  if (!sc.clients.availability_trace.empty()) {
    std::ifstream in(sc.clients.availability_trace, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      return error_message{"clients.availability.trace: cannot read \"" +
                           sc.clients.availability_trace + "\""};
    }
    auto trace = parse_availability(text.str(), sc.clients.availability_trace);
    if (!trace) return error_message{"clients.availability.trace: " + trace.error()};
    w->online = std::move(*trace);
  }
  {
    dense_result sized;
    sized.values.resize(static_cast<size_t>(w->net->param_count()));
    w->dense_result_bytes = wire_size(sized);
    w->model_bytes = wire_size(sized.values);
  }

  auto& o = w->optimizer;
  o.kind = sc.train.optimizer;
  o.lr = sc.train.lr;
  o.momentum = sc.train.momentum;
  o.beta1 = sc.train.beta1;
  o.beta2 = sc.train.beta2;
  o.eps = sc.train.adam_eps;
  o.weight_decay = sc.train.weight_decay;
  o.nesterov = sc.train.nesterov;
  w->schedule = lr_schedule{sc.train.lr, sc.train.warmup_rounds, sc.train.warmup_lr,
                            sc.train.milestones, sc.train.gamma};
  w->scheme = sc.baffle.scheme;
  w->seeds = sc.baffle.seeds;
  w->estimator = estimator_options{sc.baffle.distribution, sc.baffle.orthogonal, sc.baffle.sparsity,
                                   sc.baffle.baseline};
  return std::shared_ptr<const world>(std::move(w));
}

void gather_inputs(const world& w, const dataset& d, std::span<const uint32_t> indices,
                   std::span<float> x, std::span<int32_t> y) {
  const int from = d.rows;
  const int to = w.image_size;
  if (from == to) {
    gather_batch(d, indices, w.norm, x, y);
    return;
  }
  const size_t n = indices.size();
  std::vector<float> raw(n * static_cast<size_t>(from) * from);
  gather_batch(d, indices, w.norm, raw, y);
  const float black = (0.f - w.norm.mean) / w.norm.stddev;
  const int off = (to - from) / 2;
  for (size_t i = 0; i < n; ++i) {
    float* out = x.data() + i * static_cast<size_t>(to) * to;
    std::fill(out, out + static_cast<size_t>(to) * to, black);
    const float* in = raw.data() + i * static_cast<size_t>(from) * from;
    for (int r = 0; r < from; ++r)
      std::copy(in + static_cast<size_t>(r) * from, in + static_cast<size_t>(r + 1) * from,
                out + static_cast<size_t>(r + off) * to + off);
  }
}

uint64_t optimizer_state_bytes(const world& w) {
  const std::vector<float> moments(static_cast<size_t>(w.net->param_count()));
  switch (w.optimizer.kind) {
    case optimizer_kind::adam:
      return 2 * wire_size(moments) + wire_size(int64_t{0});
    case optimizer_kind::sgd:
      return w.optimizer.momentum > 0 ? wire_size(moments) : 0;
  }
  return 0;
}

int baseline_steps(const world& w) {
  if (w.sc.train.algorithm != algorithm_kind::fedavg) return 1;
  size_t smallest = w.parts.clients.front().size();
  for (const auto& s : w.parts.clients) smallest = std::min(smallest, s.size());
  const size_t batch = static_cast<size_t>(w.sc.train.batch_size);
  return w.sc.train.local_epochs * static_cast<int>((smallest + batch - 1) / batch);
}

std::vector<uint32_t> select_online_clients(const world& w, int64_t round, sim_time start,
                                            int size) {
  const int count = w.sc.clients.count;
  const stream_id s{derive_seed(w.sc.seed, purpose::selection, 0), purpose::selection,
                    static_cast<uint32_t>(round)};
  if (w.online.client_count() == 0 && count > size) {
    // No trace: everyone is online and positions are client ids, so skip listing all clients
    // (O(count) every round: ~0.5 ms at 100,000 clients). The same picks as below.
    auto picks =
        sample_without_replacement(s, static_cast<uint32_t>(count), static_cast<uint32_t>(size));
    std::sort(picks.begin(), picks.end());
    return picks;
  }
  std::vector<uint32_t> online;
  for (int c = 0; c < count; ++c)
    if (w.online.available(static_cast<uint32_t>(c), start))
      online.push_back(static_cast<uint32_t>(c));
  if (static_cast<int>(online.size()) <= size) return online;
  // The same draws as select_clients when everyone is online (positions map to themselves).
  auto picks = sample_without_replacement(s, static_cast<uint32_t>(online.size()),
                                          static_cast<uint32_t>(size));
  for (auto& p : picks) p = online[p];
  std::sort(picks.begin(), picks.end());
  return picks;
}

double forward_speed_factor(const scenario& sc) {
  const auto& cc = sc.clients.compute;
  // The baselines backprop in f32 whatever model.precision says.
  if (sc.train.algorithm != algorithm_kind::baffle) return 1.0;
  switch (sc.model.precision) {
    case forward_precision::f32:
      return 1.0;
    case forward_precision::bf16:
      return cc.gflops_bf16 > 0 ? cc.gflops_bf16 / cc.gflops : 1.0;  // 0: as fast as f32
    case forward_precision::int8:
      return cc.gflops_int8 > 0 ? cc.gflops_int8 / cc.gflops : 1.0;
  }
  return 1.0;
}

device_profile device_in_round(const world& w, uint32_t client, uint64_t round) {
  // forward_speed is exactly 1 for f32, so f32 times are what they were before it existed.
  return device_profile{w.devices[client].gflops * w.forward_speed *
                        round_speed_factor(w.device, w.sc.seed, client, round)};
}

loss_stats evaluate(const world& w, std::span<const float> params, const dataset& d,
                    const std::vector<uint32_t>& indices, tbb::task_arena& arena,
                    workspace_pool* pool, forward_precision precision) {
  const network& net = *w.net;
  std::vector<uint32_t> all;
  const std::vector<uint32_t>* idx = &indices;
  if (indices.empty()) {
    all.resize(d.count);
    std::iota(all.begin(), all.end(), 0u);
    idx = &all;
  }
  constexpr size_t batch = 250;
  const size_t n = idx->size();
  const size_t batches = (n + batch - 1) / batch;
  std::vector<loss_stats> parts(batches);
  const size_t features = static_cast<size_t>(input_features(w));
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, batches, [&](size_t b) {
      enter_compute_thread();
      const size_t first = b * batch;
      const size_t len = std::min(batch, n - first);
      std::vector<float> x(len * features);
      std::vector<int32_t> y(len);
      gather_inputs(w, d, std::span<const uint32_t>(idx->data() + first, len), x, y);
      workspace_pool::lease ws(pool);
      parts[b] = net.loss_at(precision, params, batch_view{x, y, static_cast<int>(len)}, *ws);
    });
  });
  loss_stats total;
  for (const auto& p : parts) total += p;
  return total;
}

std::string format_event(const event_record& e) {
  static const char* names[] = {"round_start", "dispatch", "dropout",
                                "arrive",      "late",     "aggregate"};
  std::string line = std::to_string(e.time.ns / 1000000000) + "." +
                     std::to_string(1000000000 + e.time.ns % 1000000000).substr(1) +
                     " round=" + std::to_string(e.round) + " " +
                     (e.client < 0 ? std::string("server") : "client=" + std::to_string(e.client)) +
                     " " + names[static_cast<int>(e.what)];
  if (!e.detail.empty()) line += " " + e.detail;
  return line;
}

std::string params_digest(std::span<const float> params) {
  const uint64_t h = fnv1a(std::as_bytes(params), digest_basis);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace baffle
