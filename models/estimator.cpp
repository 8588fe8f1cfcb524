// Client and server halves of the BAFFLE estimator.
#include "models/estimator.hpp"

#include <algorithm>
#include <cassert>
#include <optional>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "models/compute.hpp"
#include "models/normal.hpp"
#include "models/perturbation_cache.hpp"

namespace baffle {

namespace {
/// Forwards per task: several, so a task's scratch buffers are allocated once for all of them, but
/// about eight tasks per thread so the work still balances. Results do not depend on it.
int grain(int tasks, tbb::task_arena& arena) {
  return std::max(1, tasks / (8 * std::max(1, arena.max_concurrency())));
}

/// A client step estimated below this many FLOPs runs on the calling thread (see
/// runs_serially). About 0.1-0.4 ms of work: forking it over the arena costs more than it gains,
/// and the caller, a client actor on a CAF worker, already runs in parallel with other clients.
constexpr double serial_step_flops = 8e6;
/// What generating one normal costs, counted in FLOPs of a small forward pass (~0.8 ns a normal).
constexpr double flops_per_normal = 20.0;

/// Runs body(range) over [0, tasks): TBB-parallel in `arena`, or, when `serial`, in one piece on
/// this thread. Every task's result is the same either way.
template <class Body>
void run_tasks(int tasks, bool serial, tbb::task_arena& arena, workspace_pool* pool,
               const Body& body) {
  if (serial) {
    enter_compute_thread();
    workspace_pool::lease ws(pool);
    body(tbb::blocked_range<int>(0, tasks), *ws);
    return;
  }
  arena.execute([&] {
    tbb::parallel_for(tbb::blocked_range<int>(0, tasks, grain(tasks, arena)),
                      [&](const tbb::blocked_range<int>& r) {
                        enter_compute_thread();
                        workspace_pool::lease ws(pool);
                        body(r, *ws);
                      });
  });
}

/// The directions of a step, and the node's cache of perturbed weights when it has one.
struct step_directions {
  const std::optional<direction_set>& dirs;  ///< absent only when the cache holds every vector
  perturbation_generation* cache;
};

/// Mean loss of the network at weights + sign * sigma * u_k: formed in the task's own buffer, or
/// read from (and, the first time, formed into) the node's cache by the same add_scaled.
loss_stats perturbed_loss(const network& net, std::span<const float> weights,
                          const batch_view& batch, const perturbation_plan& plan,
                          const step_directions& d, int k, float sign, workspace& ws) {
  const auto form = [&](std::span<float> out) {
    d.dirs->add_scaled(k, sign * plan.sigma, weights, out);
  };
  if (d.cache != nullptr && d.cache->holds(k, sign))
    return net.loss(d.cache->get(k, sign, form), batch, ws);
  std::vector<float>& buffer = ws.params;
  buffer.resize(weights.size());
  form(buffer);
  return net.loss(buffer, batch, ws);
}

/// The K scalars from their double-precision differences, with the baseline applied.
void set_scalars(std::span<const double> d, loss_baseline baseline, std::span<float> out) {
  switch (baseline) {
    case loss_baseline::none:
      for (size_t k = 0; k < d.size(); ++k) out[k] = static_cast<float>(d[k]);
      return;
    case loss_baseline::mean: {
      double mean = 0;
      for (double x : d) mean += x;
      mean /= static_cast<double>(d.size());
      for (size_t k = 0; k < d.size(); ++k) out[k] = static_cast<float>(d[k] - mean);
      return;
    }
  }
}
}  // namespace

bool runs_serially(const network& net, int batch, const perturbation_plan& plan) {
  const double passes = static_cast<double>(forward_passes_per_round(plan.k, plan.scheme));
  const double work = passes * net.forward_flops(batch) +
                      flops_per_normal * plan.k * static_cast<double>(net.param_count());
  return work < serial_step_flops;
}

client_estimate baffle_client_step(const network& net, std::span<const float> weights,
                                   const batch_view& batch, const perturbation_plan& plan,
                                   tbb::task_arena& arena, workspace_pool* pool,
                                   perturbation_generation* cache) {
  client_estimate out;
  const int k_count = plan.k;
  out.scalars.assign(k_count, 0.f);
  out.forward_passes = forward_passes_per_round(k_count, plan.scheme);
  const bool serial = runs_serially(net, batch.size, plan);
  // Every vector already in the node's cache: no directions to draw (an orthogonal set is K^2 n).
  std::optional<direction_set> dirs;
  if (cache == nullptr || !cache->complete())
    dirs.emplace(plan.round_seed, k_count, static_cast<int64_t>(weights.size()), plan.options,
                 arena);
  const step_directions sd{dirs, cache};
  std::vector<double> d(k_count);
  if (plan.scheme == fd_scheme::forward) {
    // Task 0 is the unperturbed loss, task k+1 the k-th perturbation; differences afterwards.
    std::vector<loss_stats> losses(k_count + 1);
    run_tasks(k_count + 1, serial, arena, pool,
              [&](const tbb::blocked_range<int>& r, workspace& ws) {
                for (int t = r.begin(); t != r.end(); ++t) {
                  losses[t] = t == 0
                                  ? net.loss(weights, batch, ws)
                                  : perturbed_loss(net, weights, batch, plan, sd, t - 1, 1.f, ws);
                }
              });
    out.base = losses[0];
    const double base = losses[0].mean_loss();
    for (int k = 0; k < k_count; ++k) d[k] = losses[k + 1].mean_loss() - base;
  } else {
    std::vector<loss_stats> plus(k_count), minus(k_count);
    run_tasks(2 * k_count, serial, arena, pool,
              [&](const tbb::blocked_range<int>& r, workspace& ws) {
                for (int t = r.begin(); t != r.end(); ++t) {
                  const int k = t / 2;
                  if (t % 2 == 0)
                    plus[k] = perturbed_loss(net, weights, batch, plan, sd, k, 1.f, ws);
                  else
                    minus[k] = perturbed_loss(net, weights, batch, plan, sd, k, -1.f, ws);
                }
              });
    loss_stats mid;
    for (int k = 0; k < k_count; ++k) d[k] = (plus[k].mean_loss() - minus[k].mean_loss()) / 2.0;
    // The unperturbed loss is not computed in the central scheme; report the mean of both sides
    // of the first direction, which equals it to O(sigma^2).
    if (k_count > 0) {
      mid.loss_sum = (plus[0].loss_sum + minus[0].loss_sum) / 2.0;
      mid.correct = plus[0].correct;
      mid.count = plus[0].count;
    }
    out.base = mid;
  }
  set_scalars(d, plan.options.baseline, out.scalars);
  return out;
}

void baffle_reconstruct(std::span<const double> dbar, const perturbation_plan& plan,
                        std::span<float> grad, tbb::task_arena& arena) {
  assert(static_cast<int>(dbar.size()) == plan.k);
  const int k_count = plan.k;
  std::vector<stream_id> streams(k_count);
  std::vector<float> coeffs(k_count);
  const double scale = 1.0 / (static_cast<double>(k_count) * plan.sigma);
  for (int k = 0; k < k_count; ++k) {
    streams[k] = perturbation_stream(plan.round_seed, k);
    coeffs[k] = static_cast<float>(dbar[k] * scale);
  }
  reconstruct_from_streams(streams, coeffs, plan.options, grad, arena);
}

void reconstruct_from_streams(std::span<const stream_id> streams, std::span<const float> coeffs,
                              const estimator_options& options, std::span<float> grad,
                              tbb::task_arena& arena) {
  assert(streams.size() == coeffs.size());
  std::fill(grad.begin(), grad.end(), 0.f);
  // Fixed chunking (not TBB's auto partition), so each element's sum is the same work whoever runs
  // it.
  constexpr size_t chunk = 4096;
  const size_t n = grad.size();
  const size_t chunks = (n + chunk - 1) / chunk;
  auto over_chunks = [&](const auto& body) {
    arena.execute([&] {
      tbb::parallel_for(size_t{0}, chunks, [&](size_t c) {
        enter_compute_thread();
        const size_t first = c * chunk;
        body(first, grad.subspan(first, std::min(chunk, n - first)));
      });
    });
  };
  if (options.plain_gaussian()) {
    over_chunks([&](size_t first, std::span<float> acc) {
      accumulate_normals(streams, coeffs, first, acc);
    });
    return;
  }
  // Runs of one seed, in order: each element still sums the terms in order j = 0, 1, ...
  for (size_t j = 0; j < streams.size();) {
    size_t end = j;
    int count = 0;
    std::vector<int> ks;
    while (end < streams.size() && streams[end].seed == streams[j].seed) {
      assert(streams[end].what == purpose::perturbation);
      ks.push_back(static_cast<int>(streams[end].stream));
      count = std::max(count, ks.back() + 1);
      ++end;
    }
    const direction_set dirs(streams[j].seed, count, static_cast<int64_t>(n), options, arena);
    const std::span<const float> run = coeffs.subspan(j, end - j);
    over_chunks([&](size_t first, std::span<float> acc) { dirs.accumulate(ks, run, first, acc); });
    j = end;
  }
}

}  // namespace baffle
