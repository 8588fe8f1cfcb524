// The BAFFLE estimator. Clients: K finite differences of the loss along Gaussian perturbations
// regenerated from the round seed. Server: the gradient rebuilt from the seeds and the
// aggregated differences (Stein's identity), g = 1/(K sigma) sum_k dbar_k eps_k. The directions'
// variance-reduction options are in models/directions.hpp.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <tbb/task_arena.h>

#include "models/directions.hpp"
#include "models/enum_names.hpp"
#include "models/network.hpp"
#include "models/philox.hpp"

namespace baffle {

class perturbation_generation;

/// forward: d_k = L(W + sigma eps_k) - L(W)   (K + 1 forward passes)
/// central: d_k = (L(W + sigma eps_k) - L(W - sigma eps_k)) / 2   (2K forward passes)
enum class fd_scheme : uint8_t { forward = 0, central = 1 };

template <>
struct enum_names<fd_scheme> {
  static constexpr std::array<std::pair<fd_scheme, std::string_view>, 2> table = {{
      {fd_scheme::forward, "forward"},
      {fd_scheme::central, "central"},
  }};
};

/// shared: every client of a round uses the same eps_k, so the server needs only the weighted
/// sum of the clients' scalar vectors; per_client: client c's eps_k come from its own seed.
enum class seed_mode : uint8_t { shared = 0, per_client = 1 };

template <>
struct enum_names<seed_mode> {
  static constexpr std::array<std::pair<seed_mode, std::string_view>, 2> table = {{
      {seed_mode::shared, "shared"},
      {seed_mode::per_client, "per-client"},
  }};
};

/// The seed client `client` draws its eps_k from in a round.
inline uint64_t client_perturbation_seed(uint64_t round_seed, seed_mode mode, uint32_t client) {
  return mode == seed_mode::shared ? round_seed
                                   : derive_seed(round_seed, purpose::perturbation, client);
}

/// What a client's perturbations are: K directions from `round_seed` (for per-client seeds, the
/// client's own seed from client_perturbation_seed), scale sigma, drawn as `options` say.
struct perturbation_plan {
  uint64_t round_seed = 0;
  int k = 0;
  float sigma = 1e-4f;
  fd_scheme scheme = fd_scheme::forward;
  estimator_options options{};
};

/// A client's answer: the K scalars, and the loss at the unperturbed weights (forward scheme;
/// for central the mean of the two sides), on its minibatch.
struct client_estimate {
  std::vector<float> scalars;
  loss_stats base;
  int64_t forward_passes = 0;
};

/// Forward passes a client does per round for K perturbations under a scheme.
inline int64_t forward_passes_per_round(int k, fd_scheme s) {
  return s == fd_scheme::forward ? k + 1 : 2 * static_cast<int64_t>(k);
}

/// Whether baffle_client_step runs a step of this size on the calling thread instead of the arena:
/// when its forward passes plus generating its K x param_count normals come to less than about
/// 8 MFLOP (a tiny model: forking over TBB would cost more than the work, and the caller, a client
/// actor, already runs in parallel with the other clients of the round).
bool runs_serially(const network& net, int batch, const perturbation_plan& plan);

/// Client step: TBB-parallel over the perturbations inside `arena` (serial on the calling thread
/// for tiny steps, see runs_serially); each task builds W + sigma u_k in its own buffer and runs
/// a serial forward, so the scalars are bit-identical whatever the thread count or path. With the
/// mean baseline the scalars are returned with their mean over k subtracted (in double).
/// `cache` (a node's generation for these weights and this plan, models/perturbation_cache.hpp)
/// supplies the perturbed weights it holds, formed once for all the node's clients; the scalars
/// are bit-identical with or without it.
client_estimate baffle_client_step(const network& net, std::span<const float> weights,
                                   const batch_view& batch, const perturbation_plan& plan,
                                   tbb::task_arena& arena, workspace_pool* pool = nullptr,
                                   perturbation_generation* cache = nullptr);

/// Server step: grad = 1/(K sigma) sum_k dbar[k] u_k, parallel over parameter chunks and
/// deterministic (every element sums k in ascending order). dbar is taken as given: the baseline
/// is the client step's.
void baffle_reconstruct(std::span<const double> dbar, const perturbation_plan& plan,
                        std::span<float> grad, tbb::task_arena& arena);

/// The general form: grad = sum_j coeffs[j] u_{streams[j]}, j in order, parallel over fixed
/// parameter chunks (deterministic); streams[j] = perturbation_stream(seed, k) names direction k
/// of a seed, drawn as `options` say. Per-client seeds use one stream per (client, k). Options
/// other than plain Gaussian handle the streams by runs of equal seed, each run one direction_set.
void reconstruct_from_streams(std::span<const stream_id> streams, std::span<const float> coeffs,
                              const estimator_options& options, std::span<float> grad,
                              tbb::task_arena& arena);

}  // namespace baffle
