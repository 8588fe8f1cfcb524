// The benchmarks behind `baffle bench`: forward passes of the scenario models on real images (or
// seeded synthetic ones when the data set is missing), an fp32 FMA peak measured in the same run,
// and the BAFFLE estimator's client step, reconstruction and gradient quality; and a whole
// federation of 100,000 clients through the real actor path (`bench scale`).
#include "tools/bench_command.hpp"

#include <immintrin.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <thread>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <nlohmann/json.hpp>

#include "actors/client.hpp"
#include "actors/metrics.hpp"
#include "actors/run.hpp"
#include "actors/world.hpp"
#include "models/compute.hpp"
#include "models/dataset.hpp"
#include "models/estimator.hpp"
#include "models/lenet.hpp"
#include "models/normal.hpp"
#include "models/philox.hpp"
#include "models/synthetic.hpp"
#include "tools/exit_codes.hpp"

namespace baffle {

namespace {

using clock_type = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

constexpr int min_blocks = 3;         ///< every median is over at least this many timed blocks
constexpr int max_blocks = 100000;    ///< and at most this many
constexpr double peak_seconds = 0.2;  ///< FMA microbenchmark per thread (after a short warm-up)
constexpr int cosine_seeds = 3;       ///< perturbation seeds the cosine is averaged over

/// Where results nobody reads are stored, so the compiler keeps the work that made them.
volatile double result_sink = 0.0;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// x rounded to 5 significant digits, so the JSON stays readable (ratios are computed unrounded).
double round5(double x) {
  if (x == 0.0 || !std::isfinite(x)) return x;
  const double scale = std::pow(10.0, 4 - static_cast<int>(std::floor(std::log10(std::fabs(x)))));
  return std::round(x * scale) / scale;
}

/// A FLOP count as a JSON integer when it is one (it normally is), else as it is.
json flops_value(double f) {
  if (f == std::floor(f) && std::fabs(f) < 9e15) return static_cast<int64_t>(f);
  return f;
}

/// Seconds of each call of `block`, repeated at least min_blocks times and until `budget` seconds
/// have passed (at most max_blocks).
template <class F>
std::vector<double> time_blocks(double budget, F&& block) {
  std::vector<double> times;
  const auto start = clock_type::now();
  while (static_cast<int>(times.size()) < min_blocks ||
         (seconds_since(start) < budget && static_cast<int>(times.size()) < max_blocks)) {
    const auto t = clock_type::now();
    block();
    times.push_back(seconds_since(t));
  }
  return times;
}

/// The 1-minute load average (the machine may be shared with builds), or -1 if unreadable.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double v = -1.0;
  if (!(in >> v)) return -1.0;
  return v;
}

/// Runs body(i) for i in [0, n) as n tasks of `arena`. Each task first waits (up to 50 ms) until
/// all n have started, so with n <= arena threads the bodies run concurrently on n threads.
/// Returns how many distinct arena threads ran them.
template <class F>
int run_concurrently(tbb::task_arena& arena, int n, F&& body) {
  std::atomic<int> started{0};
  std::vector<int> thread_of(n, -1);
  arena.execute([&] {
    tbb::parallel_for(
        tbb::blocked_range<int>(0, n, 1),
        [&](const tbb::blocked_range<int>& r) {
          enter_compute_thread();
          for (int i = r.begin(); i != r.end(); ++i) {
            thread_of[i] = tbb::this_task_arena::current_thread_index();
            started.fetch_add(1);
            const auto t = clock_type::now();
            while (started.load() < n && seconds_since(t) < 0.05) _mm_pause();
            body(i);
          }
        },
        tbb::simple_partitioner());
  });
  return static_cast<int>(std::set<int>(thread_of.begin(), thread_of.end()).size());
}

/// fp32 FLOP/s of one thread running independent FMA chains for `seconds`.
double fma_flops_per_second(double seconds, std::string* method) {
  long long iterations = 0;
  double elapsed = 0.0;
  float sink = 0.f;
  const auto start = clock_type::now();
#if defined(__AVX512F__)
  constexpr int chains = 12, lanes = 16;
  *method = "avx512 _mm512_fmadd_ps, 12 independent accumulators";
  __m512 acc[chains];
  for (int j = 0; j < chains; ++j) acc[j] = _mm512_set1_ps(0.1f * static_cast<float>(j));
  const __m512 m = _mm512_set1_ps(0.9999f), a = _mm512_set1_ps(1e-3f);  // converges to 10
  do {
    for (int r = 0; r < 4096; ++r) {
#pragma GCC unroll 12
      for (int j = 0; j < chains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], m, a);
    }
    iterations += 4096;
    elapsed = seconds_since(start);
  } while (elapsed < seconds);
  alignas(64) float out[lanes];  // (_mm512_reduce_add_ps trips a g++ 12 -Wuninitialized bug)
  for (int j = 0; j < chains; ++j) {
    _mm512_store_ps(out, acc[j]);
    for (float v : out) sink += v;
  }
  constexpr double flops_per_iteration = 2.0 * chains * lanes;
#elif defined(__FMA__) && defined(__AVX__)
  constexpr int chains = 10, lanes = 8;
  *method = "avx2 _mm256_fmadd_ps, 10 independent accumulators";
  __m256 acc[chains];
  for (int j = 0; j < chains; ++j) acc[j] = _mm256_set1_ps(0.1f * static_cast<float>(j));
  const __m256 m = _mm256_set1_ps(0.9999f), a = _mm256_set1_ps(1e-3f);
  do {
    for (int r = 0; r < 4096; ++r) {
#pragma GCC unroll 10
      for (int j = 0; j < chains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], m, a);
    }
    iterations += 4096;
    elapsed = seconds_since(start);
  } while (elapsed < seconds);
  alignas(32) float out[lanes];
  for (int j = 0; j < chains; ++j) {
    _mm256_store_ps(out, acc[j]);
    for (float v : out) sink += v;
  }
  constexpr double flops_per_iteration = 2.0 * chains * lanes;
#else
  constexpr int chains = 8;
  *method = "scalar multiply-add, 8 independent accumulators (no AVX-512 or FMA)";
  float acc[chains];
  for (int j = 0; j < chains; ++j) acc[j] = 0.1f * static_cast<float>(j);
  do {
    for (int r = 0; r < 4096; ++r)
      for (int j = 0; j < chains; ++j) acc[j] = acc[j] * 0.9999f + 1e-3f;
    iterations += 4096;
    elapsed = seconds_since(start);
  } while (elapsed < seconds);
  for (float v : acc) sink += v;
  constexpr double flops_per_iteration = 2.0 * chains;
#endif
  result_sink = sink;
  return static_cast<double>(iterations) * flops_per_iteration / elapsed;
}

/// Operations per second of one thread applying `step` to 12 independent 64-byte accumulators
/// (starting at `zero`) for `seconds`; each step counts `ops_per_step`. The accumulators' bits go
/// to result_sink so the loop cannot be optimised away.
template <class Acc, class Step>
[[maybe_unused]] double chain_rate(double seconds, Acc zero, Step step, double ops_per_step) {
  constexpr int chains = 12;
  static_assert(sizeof(Acc) == 64);
  Acc acc[chains];
  for (auto& a : acc) a = zero;
  long long iterations = 0;
  double elapsed = 0.0;
  const auto start = clock_type::now();
  do {
    for (int r = 0; r < 4096; ++r) {
#pragma GCC unroll 12
      for (int j = 0; j < chains; ++j) acc[j] = step(acc[j]);
    }
    iterations += 4096;
    elapsed = seconds_since(start);
  } while (elapsed < seconds);
  int64_t sink = 0;
  for (const auto& a : acc) {
    int32_t out[16];
    std::memcpy(out, &a, sizeof(out));
    for (int32_t v : out) sink += v;
  }
  result_sink = static_cast<float>(sink);
  return static_cast<double>(iterations) * chains * ops_per_step / elapsed;
}

/// Multiply-add operations per second (2 per multiply-add, as FLOP count) of one thread running
/// the precision's own dot-product instruction on independent accumulators for `seconds`:
/// `vdpbf16ps` (bf16 pairs into fp32, 32 multiply-adds) or `vpdpbusd` (u8 x s8 quads into int32,
/// 64 multiply-adds). What oneDNN's bf16 and int8 kernels run on a CPU without AMX; 0 where the
/// build has no such instruction (then the method says so).
double dot_ops_per_second(forward_precision p, double seconds, std::string* method) {
  if (p == forward_precision::bf16) {
#if defined(__AVX512BF16__)
    *method = "avx512_bf16 _mm512_dpbf16_ps, 12 independent accumulators";
    // bf16 pairs (1, -1) . (1, 1): every step adds 0, so nothing overflows or goes subnormal.
    const __m512bh a = (__m512bh)_mm512_set1_epi32(int32_t(0xBF803F80u));
    const __m512bh b = (__m512bh)_mm512_set1_epi32(int32_t(0x3F803F80u));
    return chain_rate(
        seconds, _mm512_setzero_ps(), [&](__m512 acc) { return _mm512_dpbf16_ps(acc, a, b); },
        2.0 * 32);
#else
    *method = "none: this build has no avx512_bf16 instruction";
    return 0.0;
#endif
  }
  if (p == forward_precision::int8) {
#if defined(__AVX512VNNI__)
    *method = "avx512_vnni _mm512_dpbusd_epi32, 12 independent accumulators";
    // u8 (1, 1, 1, 1) . s8 (1, -1, 1, -1): every step adds 0.
    const __m512i a = _mm512_set1_epi8(1);
    const __m512i b = _mm512_set1_epi16(int16_t(0xFF01));
    return chain_rate(
        seconds, _mm512_setzero_si512(),
        [&](__m512i acc) { return _mm512_dpbusd_epi32(acc, a, b); }, 2.0 * 64);
#else
    *method = "none: this build has no avx512_vnni instruction";
    return 0.0;
#endif
  }
  return fma_flops_per_second(seconds, method);
}

/// Peak fp32 GFLOP/s of `threads` threads running the FMA loop at once in `arena`.
/// With a precision other than f32: the peak of that precision's dot-product instruction
/// (dot_ops_per_second), in G multiply-add operations x 2 per second.
double measure_peak_gflops(tbb::task_arena& arena, int threads, std::string* method,
                           forward_precision p = forward_precision::f32) {
  std::vector<double> rate(threads, 0.0);
  std::vector<std::string> methods(threads);
  run_concurrently(arena, threads, [&](int i) {
    dot_ops_per_second(p, 0.02, &methods[i]);  // warm-up: wide-vector frequency settles
    rate[i] = dot_ops_per_second(p, peak_seconds, &methods[i]);
  });
  *method = methods[0];
  double total = 0.0;
  for (double r : rate) total += r;
  return total * 1e-9;
}

/// The model, its initial parameters and one minibatch, built as `baffle run` builds them.
struct bench_setup {
  std::shared_ptr<const world> w;
  std::vector<float> params;
  std::vector<float> x;
  std::vector<int32_t> y;
  int batch = 0;
  std::string data;  ///< what the images are, for the "data" field

  const network& net() const { return *w->net; }
  batch_view view() const { return batch_view{x, y, batch}; }
};

result<bench_setup> make_setup(const bench_options& o, std::ostream& err) {
  scenario sc;
  sc.name = "bench";
  sc.model.arch = o.model;
  sc.model.precision = o.precision;
  sc.data.path = o.data;  // an MNIST-format folder, as the default data.dataset reads
  // The reference pads 28 to 32 for its convolutional networks.
  sc.data.image_size = o.model == arch_kind::mlp ? 0 : 32;
  sc.clients.count = 1;
  sc.clients.per_round = 1;
  const int64_t subset = std::clamp<int64_t>(o.batch, 1024, 60000);
  sc.data.train_subset = subset;
  sc.data.test_subset = 1;

  bench_setup s;
  s.batch = o.batch;
  auto data = load_data(data_source_of(sc));
  if (data) {
    s.data = "real images: the first " +
             std::to_string(std::min<int64_t>(o.batch, data->train.count)) +
             " training images of " + o.data;
  } else {
    std::string why = data.error();
    if (const size_t nl = why.find('\n'); nl != std::string::npos) why.resize(nl);
    err << "warning: " << why << "; benchmarking on seeded synthetic images instead\n";
    // The mixture (a mean image per class plus pixel noise) looks more like real images than the
    // teacher's uniform noise does.
    sc.data.dataset = dataset_kind::synthetic;
    sc.data.synthetic = synthetic_kind::mixture;
    sc.data.synthetic_train = subset;
    sc.data.synthetic_test = 1;
    data = load_data(data_source_of(sc));
    if (!data) return error_message{data.error()};
    s.data = "synthetic: seeded 28x28 mixture images (data set not loaded: " + why + ")";
  }
  auto w = build_world(sc, std::move(*data));
  if (!w) return error_message{w.error()};
  s.w = std::move(*w);
  s.params.resize(static_cast<size_t>(s.net().param_count()));
  s.net().init(s.params, derive_seed(sc.seed, purpose::init, 0));

  const dataset& d = s.w->data.train;
  std::vector<uint32_t> idx(o.batch);
  for (int i = 0; i < o.batch; ++i) idx[i] = static_cast<uint32_t>(i % d.count);
  s.x.resize(static_cast<size_t>(o.batch) * static_cast<size_t>(input_features(*s.w)));
  s.y.resize(o.batch);
  gather_inputs(*s.w, d, idx, s.x, s.y);
  return s;
}

/// Lets TBB run `threads` threads even when that is more than the cores (oversubscribed).
std::optional<tbb::global_control> allow_threads(int threads) {
  std::optional<tbb::global_control> gc;
  const int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads > hw) gc.emplace(tbb::global_control::max_allowed_parallelism, threads);
  return gc;
}

json header(const char* benchmark, const bench_options& o, const bench_setup& s) {
  json j;
  j["benchmark"] = benchmark;
  j["model"] = s.net().describe();
  j["param_count"] = s.net().param_count();
  j["batch"] = o.batch;
  j["threads"] = o.threads;
  j["data"] = s.data;
  j["precision"] = name_of(o.precision);
  j["onednn_isa"] = onednn_isa();
  if (const auto* ln = dynamic_cast<const lenet*>(&s.net()))
    j["conv_implementations"] = ln->implementations(o.batch, o.precision);
  return j;
}

/// Median seconds of one block of `forwards` forwards at precision p on the calling thread.
double forward_block_seconds(const bench_setup& s, forward_precision p, int forwards, double budget,
                             workspace& ws) {
  double sink = s.net().loss_at(p, s.params, s.view(), ws).loss_sum;  // primitives, buffers
  const double t = median(time_blocks(budget, [&] {
    for (int r = 0; r < forwards; ++r) sink += s.net().loss_at(p, s.params, s.view(), ws).loss_sum;
  }));
  result_sink = sink;
  return t;
}

/// Median per-stage times of lenet::timed_loss on the calling thread, as [{name, ms, share}].
json lenet_stages(const lenet& net, const bench_setup& s, int forwards_per_block, double budget) {
  workspace ws;
  lenet::stage_times t{};
  net.timed_loss(s.params, s.view(), ws, &t);  // primitives and buffers
  constexpr int stages = 5;
  const char* names[stages] = {"conv1", "norm_act_pool1", "conv2", "norm_act_pool2", "head"};
  std::vector<std::vector<double>> per_stage(stages);
  time_blocks(budget, [&] {
    double sum[stages] = {};
    for (int r = 0; r < forwards_per_block; ++r) {
      net.timed_loss(s.params, s.view(), ws, &t);
      const double v[stages] = {t.conv1, t.norm_act_pool1, t.conv2, t.norm_act_pool2, t.head};
      for (int i = 0; i < stages; ++i) sum[i] += v[i];
    }
    for (int i = 0; i < stages; ++i) per_stage[i].push_back(sum[i] / forwards_per_block * 1e3);
  });
  double ms[stages], total = 0.0;
  for (int i = 0; i < stages; ++i) total += ms[i] = median(per_stage[i]);
  json out = json::array();
  for (int i = 0; i < stages; ++i)
    out.push_back({{"name", names[i]},
                   {"ms", round5(ms[i])},
                   {"share", round5(total > 0 ? ms[i] / total : 0.0)}});
  return out;
}

double cosine(std::span<const float> a, std::span<const float> b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

}  // namespace

std::string check_bench_options(const bench_options& o) {
  if (o.batch < 1) return "--batch " + std::to_string(o.batch) + " must be at least 1";
  if (o.threads < 1) return "--threads " + std::to_string(o.threads) + " must be at least 1";
  if (o.threads > 256) return "--threads " + std::to_string(o.threads) + " must be at most 256";
  if (o.k < 1) return "--k " + std::to_string(o.k) + " must be at least 1";
  if (!(o.estimator.sparsity > 0) || o.estimator.sparsity > 1)
    return "--sparsity " + std::to_string(o.estimator.sparsity) + " must be in (0, 1]";
  if (o.estimator.baseline == loss_baseline::mean && o.k < 2)
    return "--baseline mean needs --k of at least 2 (with one direction the estimate is zero)";
  if (!(o.sigma >= 0) || !std::isfinite(o.sigma))
    return "--sigma " + std::to_string(o.sigma) + " must be 0 (the scenario default) or positive";
  if (!(o.seconds > 0) || o.seconds > 3600)
    return "--seconds " + std::to_string(o.seconds) + " must be more than 0 and at most 3600";
  return {};
}

int bench_forward(const bench_options& o, std::ostream& out, std::ostream& err) {
  if (const std::string bad = check_bench_options(o); !bad.empty()) {
    err << "error: " << bad << "\n";
    return exit_code::bad_input;
  }
  enter_compute_thread();
  const double load = load_average();
  auto setup = make_setup(o, err);
  if (!setup) {
    err << "error: " << setup.error() << "\n";
    return exit_code::bad_input;
  }
  const bench_setup& s = *setup;
  const network& net = s.net();
  const auto gc = allow_threads(o.threads);
  tbb::task_arena arena(o.threads);

  // One workspace per concurrent forward; a first pass creates oneDNN primitives and buffers.
  std::vector<workspace> ws(o.threads);
  std::vector<double> sink(o.threads, 0.0);
  run_concurrently(arena, o.threads,
                   [&](int i) { sink[i] += net.loss(s.params, s.view(), ws[i]).loss_sum; });

  int fewest_threads = o.threads;
  const std::vector<double> blocks = time_blocks(o.seconds, [&] {
    const int used = run_concurrently(arena, o.threads, [&](int i) {
      for (int r = 0; r < o.k; ++r) sink[i] += net.loss(s.params, s.view(), ws[i]).loss_sum;
    });
    fewest_threads = std::min(fewest_threads, used);
  });
  if (fewest_threads < o.threads)
    err << "warning: some blocks ran on only " << fewest_threads << " of " << o.threads
        << " threads (busy machine?); throughput is understated\n";

  std::string method;
  const double peak = measure_peak_gflops(arena, o.threads, &method);

  const double block_s = median(blocks);
  const double flops = net.forward_flops(o.batch);
  const double forwards = static_cast<double>(o.k) * o.threads;
  const double ms_per_forward = block_s / forwards * 1e3;
  const double gflops = flops / ms_per_forward * 1e-6;

  json j = header("forward", o, s);
  j["forwards_per_block"] = o.k * o.threads;
  j["blocks"] = blocks.size();
  j["flops_per_forward"] = flops_value(flops);
  j["ms_per_forward"] = round5(ms_per_forward);
  j["ms_per_forward_per_thread"] = round5(block_s / o.k * 1e3);
  j["forward_passes_per_s"] = round5(forwards / block_s);
  j["gflops"] = round5(gflops);
  j["peak_gflops"] = round5(peak);
  j["peak_method"] = method;
  j["fraction_of_peak"] = round5(peak > 0 ? gflops / peak : 0.0);
  if (o.precision != forward_precision::f32) {
    // The precision's own peak: what its kernels could reach on this CPU.
    std::string lowp_method;
    const double lowp_peak = measure_peak_gflops(arena, o.threads, &lowp_method, o.precision);
    j["precision_peak_gops"] = round5(lowp_peak);
    j["precision_peak_method"] = lowp_method;
    j["fraction_of_precision_peak"] = round5(lowp_peak > 0 ? gflops / lowp_peak : 0.0);
    // The f32 path in the same run, one thread, for the ratio (the machine may be shared).
    workspace ws32;
    const double f32_ms =
        forward_block_seconds(s, forward_precision::f32, o.k, o.seconds, ws32) / o.k * 1e3;
    const double lowp_ms = forward_block_seconds(s, o.precision, o.k, o.seconds, ws32) / o.k * 1e3;
    j["one_thread_ms_per_forward"] = round5(lowp_ms);
    j["one_thread_f32_ms_per_forward"] = round5(f32_ms);
    j["speedup_vs_f32"] = round5(f32_ms / lowp_ms);
  }
  if (const auto* ln = dynamic_cast<const lenet*>(&net)) {
    j["per_layer_threads"] = 1;
    j["per_layer"] = lenet_stages(*ln, s, o.k, std::min(o.seconds, 0.5));
  }
  j["load_average_1min"] = load;
  out << j.dump(2) << "\n";
  return 0;
}

int bench_estimator(const bench_options& o, std::ostream& out, std::ostream& err) {
  if (const std::string bad = check_bench_options(o); !bad.empty()) {
    err << "error: " << bad << "\n";
    return exit_code::bad_input;
  }
  enter_compute_thread();
  const double load = load_average();
  auto setup = make_setup(o, err);
  if (!setup) {
    err << "error: " << setup.error() << "\n";
    return exit_code::bad_input;
  }
  const bench_setup& s = *setup;
  const network& net = s.net();
  const auto gc = allow_threads(o.threads);
  tbb::task_arena arena(o.threads);
  tbb::task_arena single(1);
  const double budget = o.seconds / 4;  // per timed quantity
  const double sigma_value = o.sigma > 0 ? o.sigma : scenario{}.baffle.sigma;
  const float sigma = static_cast<float>(sigma_value);
  const perturbation_plan plan{7, o.k, sigma, fd_scheme::forward, o.estimator};
  const int64_t p = net.param_count();

  // One unperturbed forward on this thread, in blocks of K forwards.
  workspace ws;
  double sink = net.loss(s.params, s.view(), ws).loss_sum;
  const double forward_ms = median(time_blocks(budget,
                                               [&] {
                                                 for (int r = 0; r < o.k; ++r)
                                                   sink +=
                                                       net.loss(s.params, s.view(), ws).loss_sum;
                                               })) /
                            o.k * 1e3;

  // The client step: K + 1 forwards, parallel over perturbations in the arena.
  // As in a run: scratch comes from a pool reused across client steps (the first call warms it).
  workspace_pool pool;
  client_estimate est = baffle_client_step(net, s.params, s.view(), plan, arena, &pool);
  const double client_ms =
      median(time_blocks(
          budget, [&] { est = baffle_client_step(net, s.params, s.view(), plan, arena, &pool); })) *
      1e3;
  double client_ms_1 = client_ms;
  if (o.threads > 1) {
    client_ms_1 =
        median(time_blocks(
            budget,
            [&] { est = baffle_client_step(net, s.params, s.view(), plan, single, &pool); })) *
        1e3;
  }

  // The server's reconstruction of K directions, and generating the same K * P normals alone
  // (same 4096-element chunks over the arena).
  std::vector<double> dbar(est.scalars.begin(), est.scalars.end());
  std::vector<float> grad(static_cast<size_t>(p));
  baffle_reconstruct(dbar, plan, grad, arena);
  const double reconstruct_ms =
      median(time_blocks(budget, [&] { baffle_reconstruct(dbar, plan, grad, arena); })) * 1e3;
  constexpr size_t chunk = 4096;
  const size_t chunks = (static_cast<size_t>(p) + chunk - 1) / chunk;
  const double normals_ms =
      median(time_blocks(budget,
                         [&] {
                           arena.execute([&] {
                             tbb::parallel_for(size_t{0}, chunks, [&](size_t c) {
                               enter_compute_thread();
                               thread_local std::vector<float> buf;
                               const size_t first = c * chunk;
                               const size_t len = std::min(chunk, static_cast<size_t>(p) - first);
                               buf.resize(len);
                               for (int k = 0; k < o.k; ++k)
                                 fill_normal(perturbation_stream(plan.round_seed, k), first, buf);
                             });
                           });
                         })) *
      1e3;
  const double normals = static_cast<double>(o.k) * static_cast<double>(p);

  // Cosine of the forward-difference estimate with backprop's gradient on the same minibatch.
  std::vector<float> exact(static_cast<size_t>(p));
  net.loss_and_grad(s.params, s.view(), exact, ws);
  json cosines = json::array();
  double cos_sum = 0.0;
  for (int seed = 0; seed < cosine_seeds; ++seed) {
    const perturbation_plan pp{derive_seed(1, purpose::round_seed, static_cast<uint64_t>(seed)),
                               o.k, sigma, fd_scheme::forward, o.estimator};
    const client_estimate e = baffle_client_step(net, s.params, s.view(), pp, arena);
    std::vector<double> d(e.scalars.begin(), e.scalars.end());
    baffle_reconstruct(d, pp, grad, arena);
    const double c = cosine(grad, exact);
    cos_sum += c;
    cosines.push_back(round5(c));
  }
  result_sink = sink;

  json j = header("estimator", o, s);
  j["k"] = o.k;
  j["sigma"] = sigma_value;
  j["scheme"] = "forward";
  j["distribution"] = name_of(o.estimator.distribution);
  j["orthogonal"] = o.estimator.orthogonal;
  j["baseline"] = name_of(o.estimator.baseline);
  j["sparsity"] = o.estimator.sparsity;
  j["flops_per_forward"] = flops_value(net.forward_flops(o.batch));
  j["forward_ms"] = round5(forward_ms);
  if (o.precision != forward_precision::f32) {
    const double f32_ms =
        forward_block_seconds(s, forward_precision::f32, o.k, budget, ws) / o.k * 1e3;
    j["f32_forward_ms"] = round5(f32_ms);
    j["forward_speedup_vs_f32"] = round5(f32_ms / forward_ms);
  }
  j["client_step_ms"] = round5(client_ms);
  if (o.threads > 1) j["client_step_ms_1_thread"] = round5(client_ms_1);
  j["perturbation_overhead"] = round5(client_ms_1 / ((o.k + 1) * forward_ms));
  j["reconstruct_ms"] = round5(reconstruct_ms);
  j["normals_ms"] = round5(normals_ms);
  j["normals_per_s"] = round5(normals / (normals_ms * 1e-3));
  j["reconstruct_vs_normals"] = round5(reconstruct_ms / normals_ms);
  j["cosine_vs_backprop"] = round5(cos_sum / cosine_seeds);
  j["cosine_seeds"] = cosines;
  // For exact directional derivatives E[cos] ~ sqrt(K / (P + K + 1)): what K directions allow.
  j["cosine_ideal"] =
      round5(std::sqrt(static_cast<double>(o.k) / static_cast<double>(p + o.k + 1)));
  j["load_average_1min"] = load;
  out << j.dump(2) << "\n";
  return 0;
}

// ---------------------------------------------------------------------------------------------
// bench scale

namespace {

/// Resident set size now: the second field of /proc/self/statm (pages) in bytes; -1 if unreadable.
int64_t current_rss_bytes() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return -1;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

/// RSS after handing freed heap memory back to the kernel (malloc_trim), so the difference of two
/// readings is what was allocated and is still live in between, not what malloc kept cached.
int64_t settled_rss_bytes() {
  malloc_trim(0);
  return current_rss_bytes();
}

/// The process's peak RSS so far (getrusage ru_maxrss, kilobytes on Linux), in bytes.
int64_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

/// CPU seconds (user + system) the whole process has used so far.
double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

/// Waits (at most `limit` seconds) until the RSS has not changed for `quiet` consecutive 20 ms
/// readings: spawned actors run their initialisation (the behaviour, the server's per-client
/// records) asynchronously on the scheduler's workers, so this is how we know they are done.
void wait_until_rss_settles(double limit, int quiet = 5) {
  const auto start = clock_type::now();
  int64_t last = -2;
  int same = 0;
  while (same < quiet && seconds_since(start) < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const int64_t now = current_rss_bytes();
    same = now == last ? same + 1 : 0;
    last = now;
  }
}

/// Stamps each round's end with the steady clock (wall time: fine in a benchmark, never in a run's
/// results) and keeps what the round reports.
class round_timer final : public metrics_sink {
 public:
  round_timer() : start_(clock_type::now()) {}
  void on_round(const round_record& r) override {
    ends_.push_back(seconds_since(start_));
    cpu_.push_back(process_cpu_seconds());
    participants_.push_back(r.participants);
    forward_passes_.push_back(r.forward_passes);
    rss_.push_back(current_rss_bytes());
  }
  const std::vector<double>& ends() const { return ends_; }
  const std::vector<double>& cpu() const { return cpu_; }
  const std::vector<int>& participants() const { return participants_; }
  const std::vector<int64_t>& forward_passes() const { return forward_passes_; }
  const std::vector<int64_t>& rss() const { return rss_; }

 private:
  clock_type::time_point start_;
  std::vector<double> ends_;
  std::vector<double> cpu_;
  std::vector<int> participants_;
  std::vector<int64_t> forward_passes_;
  std::vector<int64_t> rss_;
};

/// The scenario `bench scale` runs; every choice that is not an option is written here.
scenario scale_scenario(const scale_options& o) {
  scenario sc;
  sc.name = "bench-scale";
  sc.seed = 1;
  sc.data.dataset = dataset_kind::synthetic;
  sc.data.synthetic = synthetic_kind::teacher;
  sc.data.synthetic_train = static_cast<int64_t>(o.clients) * o.examples;
  sc.data.synthetic_test = 1000;
  sc.data.validation_fraction = 0.0;  // every image belongs to a client: exactly `examples` each
  sc.data.partition = partition_kind::iid;
  sc.model.arch = arch_kind::mlp;
  sc.model.hidden = o.hidden;
  sc.train.algorithm = algorithm_kind::baffle;
  sc.train.rounds = o.rounds;
  sc.train.batch_size = o.examples;
  sc.train.eval_every = o.rounds;  // evaluate once, after the last round (excluded from medians)
  sc.baffle.k = o.k;
  sc.baffle.scheme = fd_scheme::forward;
  sc.baffle.seeds = seed_mode::shared;
  sc.clients.count = o.clients;
  sc.clients.per_round = o.per_round;
  sc.server.policy = policy_kind::sync;
  sc.run.perturbation_cache_mb = o.perturbation_cache_mb;
  return sc;
}

int64_t dataset_bytes(const dataset& d) {
  return static_cast<int64_t>(d.pixels.capacity() + d.labels.capacity());
}

}  // namespace

std::string check_scale_options(const scale_options& o) {
  const auto range = [](const char* name, int64_t v, int64_t lo, int64_t hi) -> std::string {
    if (v >= lo && v <= hi) return {};
    return std::string(name) + " " + std::to_string(v) + " must be from " + std::to_string(lo) +
           " to " + std::to_string(hi);
  };
  for (const std::string& bad :
       {range("--clients", o.clients, 1, 10000000), range("--per-round", o.per_round, 1, o.clients),
        range("--k", o.k, 1, 100000), range("--rounds", o.rounds, 2, 1000000),
        range("--threads", o.threads, 0, 256), range("--examples", o.examples, 1, 100000),
        range("--image-size", o.image_size, 1, 256),
        range("--perturbation-cache-mb", o.perturbation_cache_mb, 0, 1 << 20),
        range("--clients x --examples", static_cast<int64_t>(o.clients) * o.examples, 1,
              std::numeric_limits<uint32_t>::max())}) {
    if (!bad.empty()) return bad;
  }
  for (int h : o.hidden)
    if (h < 1) return "--hidden widths must be at least 1, got " + std::to_string(h);
  return {};
}

int bench_scale(const scale_options& opt, std::ostream& out, std::ostream& err) {
  if (const std::string bad = check_scale_options(opt); !bad.empty()) {
    err << "error: " << bad << "\n";
    return exit_code::bad_input;
  }
  scale_options o = opt;
  if (o.threads == 0)
    o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const double load = load_average();
  const scenario sc = scale_scenario(o);
  const auto n = static_cast<double>(o.clients);

  // 1. The data set, then the world (partition, per-client links and devices, the network).
  const int64_t rss_start = settled_rss_bytes();
  const auto t_setup = clock_type::now();
  data_source source = data_source_of(sc);
  std::get<synthetic_spec>(source).image_size = o.image_size;
  auto data = load_data(source);
  if (!data) {
    err << "error: " << data.error() << "\n";
    return exit_code::bad_input;
  }
  const int64_t data_bytes = dataset_bytes(data->train) + dataset_bytes(data->test);
  const int64_t rss_data = settled_rss_bytes();
  auto built = build_world(sc, std::move(*data));
  if (!built) {
    err << "error: " << built.error() << "\n";
    return exit_code::bad_input;
  }
  const std::shared_ptr<const world> w = std::move(*built);
  const int64_t rss_world = settled_rss_bytes();
  const double setup_s = seconds_since(t_setup);

  // 2. Idle clients: an actor system of its own with every client actor and the server spawned
  // (and initialised), nothing sent. Torn down before the timed run.
  int64_t rss_system = 0, rss_spawned = 0;
  double spawn_s = 0.0;
  {
    caf::actor_system_config cfg;
    add_message_types(cfg);
    cfg.set("scheduler.max-threads", static_cast<size_t>(o.threads));
    tbb::task_arena arena(o.threads);  // before the system: it must outlive the actors
    workspace_pool pool;
    caf::actor_system sys{cfg};
    rss_system = settled_rss_bytes();
    const auto t_spawn = clock_type::now();
    federation f = spawn_federation(sys, w, nullptr, &arena, &pool);
    spawn_s = seconds_since(t_spawn);
    wait_until_rss_settles(30.0);
    rss_spawned = settled_rss_bytes();
    caf::scoped_actor self{sys};
    self->send_exit(f.server, caf::exit_reason::user_shutdown);
    for (auto& n : f.nodes) self->send_exit(n, caf::exit_reason::user_shutdown);
  }
  // The server's per-client record (clients.csv), built alone to split the actors' share.
  int64_t records_bytes = 0;
  {
    const int64_t before = settled_rss_bytes();
    std::vector<client_record> records(static_cast<size_t>(o.clients));
    for (auto& r : records) r.labels.assign(static_cast<size_t>(w->data.train.num_classes), 0);
    records_bytes = settled_rss_bytes() - before;
  }

  // 3. The timed run: the real federation, as `baffle run` runs it.
  round_timer timer;
  run_options ro;
  ro.threads = o.threads;
  const auto t_run = clock_type::now();
  const run_outcome outcome = run_simulation(w, ro, &timer);
  const double run_s = seconds_since(t_run);
  if (!outcome.error.empty()) {
    err << "error: the run failed: " << outcome.error << "\n";
    return exit_code::failed;
  }
  const std::vector<double>& ends = timer.ends();
  if (ends.size() != static_cast<size_t>(o.rounds)) {
    err << "error: the run reported " << ends.size() << " rounds of " << o.rounds << "\n";
    return exit_code::failed;
  }
  // Round r (r >= 2) lasts from round r - 1's report to its own; round 1 also spawned the actors.
  std::vector<double> durations, rates, round_rates;
  int64_t updates = 0, forwards = 0;
  int fewest_participants = o.per_round;
  for (size_t r = 1; r < ends.size(); ++r) {
    const double d = ends[r] - ends[r - 1];
    durations.push_back(d);
    round_rates.push_back(d > 0 ? 1.0 / d : 0.0);
    rates.push_back(d > 0 ? timer.participants()[r] / d : 0.0);
    updates += timer.participants()[r];
    forwards += timer.forward_passes()[r];
    fewest_participants = std::min(fewest_participants, timer.participants()[r]);
  }
  const double timed_s = ends.back() - ends.front();
  const double timed_cpu_s = timer.cpu().back() - timer.cpu().front();
  // ru_maxrss, or the largest statm reading if higher (the kernel folds per-thread RSS counters
  // into the process's lazily, so the two can differ by a few hundred kB).
  int64_t run_rss_max = 0;
  for (int64_t v : timer.rss()) run_rss_max = std::max(run_rss_max, v);
  const int64_t peak_rss = std::max({peak_rss_bytes(), run_rss_max, rss_spawned});

  const double world_per_client = static_cast<double>(rss_world - rss_data) / n;
  const double actors_per_client = static_cast<double>(rss_spawned - rss_system) / n;
  const double records_per_client = static_cast<double>(records_bytes) / n;
  using client_actor_impl = std::remove_pointer_t<client_actor::stateful_pointer<client_state>>;

  json j;
  j["benchmark"] = "scale";
  j["model"] = w->net->describe();
  j["param_count"] = w->net->param_count();
  j["clients"] = o.clients;
  j["per_round"] = o.per_round;
  j["k"] = o.k;
  j["scheme"] = "forward, shared seeds";
  j["perturbation_cache_mb"] = o.perturbation_cache_mb;
  j["policy"] = "sync";
  j["batch"] = o.examples;
  j["rounds"] = o.rounds;
  j["timed_rounds"] = durations.size();
  j["threads"] = o.threads;
  j["data"] = "synthetic teacher: " + std::to_string(sc.data.synthetic_train) +
              " training images " + std::to_string(o.image_size) + "x" +
              std::to_string(o.image_size) + ", " + std::to_string(o.examples) +
              " per client (IID, no validation split); " + std::to_string(sc.data.synthetic_test) +
              " test images evaluated after the last round";
  j["client_updates_per_s"] = round5(median(rates));
  j["client_updates_per_s_mean"] = round5(timed_s > 0 ? updates / timed_s : 0.0);
  j["rounds_per_s"] = round5(median(round_rates));
  j["round_ms_median"] = round5(median(durations) * 1e3);
  j["round_ms_min"] = round5(*std::min_element(durations.begin(), durations.end()) * 1e3);
  j["round_ms_max"] = round5(*std::max_element(durations.begin(), durations.end()) * 1e3);
  j["timed_updates"] = updates;
  j["fewest_participants"] = fewest_participants;
  j["forward_passes_per_s"] = round5(timed_s > 0 ? static_cast<double>(forwards) / timed_s : 0.0);
  j["cpu_cores_busy"] = round5(timed_s > 0 ? timed_cpu_s / timed_s : 0.0);
  j["cpu_us_per_update"] =
      round5(updates > 0 ? timed_cpu_s / static_cast<double>(updates) * 1e6 : 0.0);
  j["setup_s"] = round5(setup_s);
  j["spawn_s"] = round5(spawn_s);
  j["first_round_s"] = round5(ends.front());
  j["run_s"] = round5(run_s);
  j["peak_rss_bytes"] = peak_rss;
  j["run_rss_max_bytes"] = run_rss_max;
  j["bytes_per_idle_client"] = round5(world_per_client + actors_per_client);
  j["idle_client_breakdown"] = {
      {"world_bytes", round5(world_per_client)},
      {"actors_bytes", round5(actors_per_client)},
      {"server_client_record_bytes", round5(records_per_client)},
      {"client_actor_bytes", round5(actors_per_client - records_per_client)},
      {"caf_actor_object_bytes", sizeof(client_actor_impl) + sizeof(caf::actor_control_block)},
  };
  j["dataset_bytes"] = data_bytes;
  j["rss_bytes"] = {{"start", rss_start},
                    {"after_data", rss_data},
                    {"after_world", rss_world},
                    {"after_actor_system", rss_system},
                    {"after_spawn", rss_spawned}};
  j["final_test_acc"] = round5(outcome.final_test_acc);
  j["load_average_1min"] = load;
  out << j.dump(2) << "\n";
  return 0;
}

}  // namespace baffle
