// LeNet forward (oneDNN convolutions, vectorised norm/activation/pool loops, sgemm head) and its
// backward pass for the backprop baselines and tests, plus a naive double-precision oracle.
#include "models/lenet.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "models/compute.hpp"
#include "models/mlp.hpp"
#include "models/philox.hpp"

namespace baffle {

namespace {

constexpr int kernel = 5;
constexpr int padding = 2;

// Workspace buffers (floats). Activations of the forward pass, then gradients.
enum buffer : size_t {
  scratch = 0,  // oneDNN reorders and scratchpad (bytes, aligned by hand)
  z1,           // conv1 out (B, c1, S, S)
  n1,           // GroupNorm 1 out (B, c1, S, S)
  stats1,       // mean (B, G) then rstd (B, G)
  a1,           // activation 1 out (B, c1, S, S)
  p1,           // max-pool out (B, c1, S/2, S/2)
  z2,           // conv2 out (B, c2, S/2, S/2)
  n2,           // GroupNorm 2 out
  stats2,       // mean, rstd (B, G)
  a2,           // activation 2 out (B, c2, S/2, S/2)
  gap,          // global average pool out (B, c2)
  logits,       // (B, classes)
  d_logits,     // (B, classes)
  d_gap,        // (B, c2)
  d_big2,       // (B, c2, S/2, S/2), reused along the second block
  d_big2b,      // (B, c2, S/2, S/2)
  d_p1,         // (B, c1, S/2, S/2)
  d_big1,       // (B, c1, S, S)
  d_big1b,      // (B, c1, S, S)
};

/// 64-byte aligned scratch of at least `bytes` from workspace buffer `scratch`.
void* aligned_scratch(workspace& ws, size_t bytes) {
  float* p = ws.get(scratch, bytes / sizeof(float) + 32);
  const auto at = (reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63};
  return reinterpret_cast<void*>(at);
}

conv2d_shape conv1_shape(const lenet_layout& l, int batch) {
  return conv2d_shape{batch, l.in_channels, l.c1, l.image_size, l.image_size, kernel,
                      1,     padding,       true};
}

conv2d_shape conv2_shape(const lenet_layout& l, int batch) {
  const int s = l.image_size / 2;
  return conv2d_shape{batch, l.c1, l.c2, s, s, kernel, 1, padding, true};
}

// Wall-clock stage timing for timed_loss only (the benchmark's per-layer breakdown); simulated
// time never comes from here.
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point& t) {
  const auto now = clock_type::now();
  const double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}

/// Mean softmax cross-entropy of logits z: (B, classes) in double, from the definition.
double mean_cross_entropy_naive(const double* z, const int32_t* y, int batch, int classes) {
  double total = 0.0;
  for (int r = 0; r < batch; ++r) {
    const double* zr = z + static_cast<size_t>(r) * classes;
    const double mx = *std::max_element(zr, zr + classes);
    double sum = 0.0;
    for (int c = 0; c < classes; ++c) sum += std::exp(zr[c] - mx);
    total += std::log(sum) + mx - zr[y[r]];
  }
  return total / batch;
}

}  // namespace

lenet::lenet(int in_channels, int image_size, int c1, int c2, int classes, activation act,
             norm_kind norm, int groups, bool norm_affine, forward_precision precision)
    : network(precision) {
  auto& l = layout_;
  if (in_channels < 1 || image_size < 2 || c1 < 1 || c2 < 1 || classes < 2) {
    throw std::invalid_argument("lenet: sizes must be positive (image_size >= 2, classes >= 2)");
  }
  l.act = act;
  l.group_norm = norm == norm_kind::group;
  if (l.group_norm && (groups < 1 || c1 % groups != 0 || c2 % groups != 0)) {
    throw std::invalid_argument("lenet: groups = " + std::to_string(groups) + " must divide c1 = " +
                                std::to_string(c1) + " and c2 = " + std::to_string(c2));
  }
  l.in_channels = in_channels;
  l.image_size = image_size;
  l.c1 = c1;
  l.c2 = c2;
  l.classes = classes;
  l.groups = l.group_norm ? groups : 1;
  l.norm_affine = l.group_norm && norm_affine;
  int64_t at = 0;
  auto take = [&at](int64_t n) {
    const int64_t o = at;
    at += n;
    return o;
  };
  l.conv1_w = take(static_cast<int64_t>(c1) * in_channels * kernel * kernel);
  l.conv1_b = take(c1);
  if (l.norm_affine) l.norm1_g = take(2 * c1);
  l.conv2_w = take(static_cast<int64_t>(c2) * c1 * kernel * kernel);
  l.conv2_b = take(c2);
  if (l.norm_affine) l.norm2_g = take(2 * c2);
  l.fc_w = take(static_cast<int64_t>(classes) * c2);
  l.fc_b = take(classes);
  l.count = at;
}

void lenet::init(std::span<float> params, uint64_t seed) const {
  const auto& l = layout_;
  assert(static_cast<int64_t>(params.size()) == l.count);
  auto uniform = [&](int64_t offset, int64_t n, double bound, uint32_t stream) {
    const stream_id s{seed, purpose::init, stream};
    for (int64_t i = 0; i < n; ++i) {
      params[offset + i] = static_cast<float>((2.0 * uniform01(s, i) - 1.0) * bound);
    }
  };
  // PyTorch's default Conv2d init (kaiming_uniform with a = sqrt 5): U(-b, b), b = 1/sqrt(fan_in),
  // for weights and biases alike.
  const double b1 = 1.0 / std::sqrt(static_cast<double>(l.in_channels) * kernel * kernel);
  uniform(l.conv1_w, static_cast<int64_t>(l.c1) * l.in_channels * kernel * kernel, b1, 0);
  uniform(l.conv1_b, l.c1, b1, 1);
  const double b2 = 1.0 / std::sqrt(static_cast<double>(l.c1) * kernel * kernel);
  uniform(l.conv2_w, static_cast<int64_t>(l.c2) * l.c1 * kernel * kernel, b2, 2);
  uniform(l.conv2_b, l.c2, b2, 3);
  // Linear: xavier-uniform weights, zero bias. GroupNorm affine: gamma 1, beta 0.
  uniform(l.fc_w, static_cast<int64_t>(l.classes) * l.c2, std::sqrt(6.0 / (l.c2 + l.classes)), 4);
  std::fill_n(params.begin() + l.fc_b, l.classes, 0.f);
  for (auto [g, c] : {std::pair{l.norm1_g, l.c1}, std::pair{l.norm2_g, l.c2}}) {
    if (g < 0) continue;
    std::fill_n(params.begin() + g, c, 1.f);
    std::fill_n(params.begin() + g + c, c, 0.f);
  }
}

double lenet::forward_flops(int batch) const {
  const auto& l = layout_;
  const conv2d_shape s1 = conv1_shape(l, batch), s2 = conv2_shape(l, batch);
  const double e1 = static_cast<double>(s1.out_count()), e2 = static_cast<double>(s2.out_count());
  double f = 2.0 * s1.macs() + e1 + 2.0 * s2.macs() + e2;  // convolutions with bias
  if (l.group_norm) f += 6.0 * (e1 + e2);                  // sum, centred square, scale, shift
  f += e1 + e2;         // activation (1 for relu; more for others)
  f += 3.0 * e1 / 4.0;  // 3 comparisons per 2x2 window
  f += e2;              // global average pool
  f += 2.0 * batch * l.c2 * l.classes + batch * l.classes;  // linear
  f += 5.0 * batch * l.classes;                             // softmax cross-entropy
  return f;
}

const float* lenet::forward(std::span<const float> params, const batch_view& b, workspace& ws,
                            bool keep, stage_times* times, forward_precision prec) const {
  const auto& l = layout_;
  const float* p = params.data();
  const int B = b.size, S = l.image_size, S2 = S / 2;
  assert(static_cast<int64_t>(b.x.size()) >= static_cast<int64_t>(B) * l.in_channels * S * S);
  const conv2d_forward_plan& plan1 = cache_.forward(conv1_shape(l, B), prec);
  const conv2d_forward_plan& plan2 = cache_.forward(conv2_shape(l, B), prec);
  void* scr = aligned_scratch(
      ws, std::max(conv2d_forward_scratch_bytes(plan1), conv2d_forward_scratch_bytes(plan2)));
  const int64_t e1 = static_cast<int64_t>(B) * l.c1 * S * S;
  const int64_t e2 = static_cast<int64_t>(B) * l.c2 * S2 * S2;
  auto t = clock_type::now();

  // Block 1. x: (B, in, S, S) -> z1: (B, c1, S, S) -> [n1] -> a1 -> p1: (B, c1, S/2, S/2)
  float* z = ws.get(z1, e1);
  conv2d_forward(z, b.x.data(), p + l.conv1_w, p + l.conv1_b, plan1, scr);
  if (times) times->conv1 = seconds_since(t);
  if (l.group_norm) {
    float* st = ws.get(stats1, 2 * static_cast<size_t>(B) * l.groups);
    float* n = ws.get(n1, e1);
    group_norm_forward(n, st, st + B * l.groups, z, l.norm_affine ? p + l.norm1_g : nullptr,
                       l.norm_affine ? p + l.norm1_g + l.c1 : nullptr,
                       group_norm_shape{B, l.c1, l.groups, S * S});
    z = n;
  }
  // For loss() alone the activation runs in place: one buffer fewer to stream through.
  float* a = keep ? ws.get(a1, e1) : z;
  activation_forward(a, z, e1, l.act);
  float* pool = ws.get(p1, static_cast<size_t>(B) * l.c1 * S2 * S2);
  max_pool2_forward(pool, a, B * l.c1, S, S);
  if (times) times->norm_act_pool1 = seconds_since(t);

  // Block 2. p1 -> z2: (B, c2, S/2, S/2) -> [n2] -> a2 -> gap: (B, c2)
  z = ws.get(z2, e2);
  conv2d_forward(z, pool, p + l.conv2_w, p + l.conv2_b, plan2, scr);
  if (times) times->conv2 = seconds_since(t);
  if (l.group_norm) {
    float* st = ws.get(stats2, 2 * static_cast<size_t>(B) * l.groups);
    float* n = ws.get(n2, e2);
    group_norm_forward(n, st, st + B * l.groups, z, l.norm_affine ? p + l.norm2_g : nullptr,
                       l.norm_affine ? p + l.norm2_g + l.c2 : nullptr,
                       group_norm_shape{B, l.c2, l.groups, S2 * S2});
    z = n;
  }
  a = keep ? ws.get(a2, e2) : z;
  activation_forward(a, z, e2, l.act);
  float* g = ws.get(gap, static_cast<size_t>(B) * l.c2);
  global_avg_pool_forward(g, a, B * l.c2, S2 * S2);
  if (times) times->norm_act_pool2 = seconds_since(t);

  // Head. logits: (B, classes) = gap (B, c2) . W^T (c2, classes) + bias
  float* out = ws.get(logits, static_cast<size_t>(B) * l.classes);
  linear_forward(out, g, p + l.fc_w, p + l.fc_b, B, l.c2, l.classes, prec, cache_, ws, scratch);
  return out;
}

loss_stats lenet::loss_at(forward_precision p, std::span<const float> params, const batch_view& b,
                          workspace& ws) const {
  const float* out = forward(params, b, ws, false, nullptr, p);
  return softmax_cross_entropy(out, b.y.data(), b.size, layout_.classes);
}

std::string lenet::implementations(int batch, forward_precision p) const {
  return plan_implementation(cache_.forward(conv1_shape(layout_, batch), p)) + ", " +
         plan_implementation(cache_.forward(conv2_shape(layout_, batch), p));
}

loss_stats lenet::timed_loss(std::span<const float> params, const batch_view& b, workspace& ws,
                             stage_times* times) const {
  auto t = clock_type::now();
  const float* out = forward(params, b, ws, false, times, precision());
  const loss_stats st = softmax_cross_entropy(out, b.y.data(), b.size, layout_.classes);
  if (times) {
    const double total = seconds_since(t);
    times->head =
        total - times->conv1 - times->norm_act_pool1 - times->conv2 - times->norm_act_pool2;
  }
  return st;
}

loss_stats lenet::loss_and_grad(std::span<const float> params, const batch_view& b,
                                std::span<float> grad, workspace& ws) const {
  const auto& l = layout_;
  assert(static_cast<int64_t>(grad.size()) == l.count);
  const float* out = forward(params, b, ws, true, nullptr, forward_precision::f32);
  const int B = b.size, S = l.image_size, S2 = S / 2;
  const int64_t e1 = static_cast<int64_t>(B) * l.c1 * S * S;
  const int64_t e2 = static_cast<int64_t>(B) * l.c2 * S2 * S2;
  const float* p = params.data();
  float* gr = grad.data();

  float* dl = ws.get(d_logits, static_cast<size_t>(B) * l.classes);
  const loss_stats st =
      softmax_cross_entropy(out, b.y.data(), B, l.classes, dl, 1.f / static_cast<float>(B));

  // Head: dW (classes, c2) = dl^T . gap; db = column sums of dl; dgap (B, c2) = dl . W.
  const float* g = ws.buffers[gap].data();
  sgemm(true, false, l.classes, l.c2, B, 1.f, dl, l.classes, g, l.c2, 0.f, gr + l.fc_w, l.c2);
  std::fill_n(gr + l.fc_b, l.classes, 0.f);
  for (int r = 0; r < B; ++r)
    for (int c = 0; c < l.classes; ++c)
      gr[l.fc_b + c] += dl[static_cast<size_t>(r) * l.classes + c];
  float* dg = ws.get(d_gap, static_cast<size_t>(B) * l.c2);
  sgemm(false, false, B, l.c2, l.classes, 1.f, dl, l.classes, p + l.fc_w, l.c2, 0.f, dg, l.c2);

  // Block 2 backward: gap -> act -> [norm] -> conv2.
  float* da = ws.get(d_big2, e2);
  global_avg_pool_backward(da, dg, B * l.c2, S2 * S2);
  const float* pre2 = (l.group_norm ? ws.buffers[n2] : ws.buffers[z2]).data();
  activation_backward(da, da, pre2, e2, l.act);
  float* dz = da;
  if (l.group_norm) {
    const float* stt = ws.buffers[stats2].data();
    dz = ws.get(d_big2b, e2);
    group_norm_backward(dz, l.norm_affine ? gr + l.norm2_g : nullptr,
                        l.norm_affine ? gr + l.norm2_g + l.c2 : nullptr, da, ws.buffers[z2].data(),
                        stt, stt + B * l.groups, l.norm_affine ? p + l.norm2_g : nullptr,
                        group_norm_shape{B, l.c2, l.groups, S2 * S2});
  }
  const conv2d_backward_plan& bp2 = cache_.backward(conv2_shape(l, B));
  const conv2d_backward_plan& bp1 = cache_.backward(conv1_shape(l, B));
  void* scr = aligned_scratch(
      ws, std::max(conv2d_backward_scratch_bytes(bp1), conv2d_backward_scratch_bytes(bp2)));
  float* dp = ws.get(d_p1, static_cast<size_t>(B) * l.c1 * S2 * S2);
  conv2d_backward(dp, gr + l.conv2_w, gr + l.conv2_b, dz, ws.buffers[p1].data(), p + l.conv2_w, bp2,
                  scr);

  // Block 1 backward: pool -> act -> [norm] -> conv1 (no input gradient needed).
  float* da1 = ws.get(d_big1, e1);
  max_pool2_backward(da1, dp, ws.buffers[a1].data(), ws.buffers[p1].data(), B * l.c1, S, S);
  const float* pre1 = (l.group_norm ? ws.buffers[n1] : ws.buffers[z1]).data();
  activation_backward(da1, da1, pre1, e1, l.act);
  dz = da1;
  if (l.group_norm) {
    const float* stt = ws.buffers[stats1].data();
    dz = ws.get(d_big1b, e1);
    group_norm_backward(dz, l.norm_affine ? gr + l.norm1_g : nullptr,
                        l.norm_affine ? gr + l.norm1_g + l.c1 : nullptr, da1, ws.buffers[z1].data(),
                        stt, stt + B * l.groups, l.norm_affine ? p + l.norm1_g : nullptr,
                        group_norm_shape{B, l.c1, l.groups, S * S});
  }
  conv2d_backward(nullptr, gr + l.conv1_w, gr + l.conv1_b, dz, b.x.data(), p + l.conv1_w, bp1, scr);
  return st;
}

std::string lenet::describe() const {
  const auto& l = layout_;
  std::ostringstream os;
  os << "lenet " << l.in_channels << "x" << l.image_size << "x" << l.image_size << " conv" << l.c1
     << "-conv" << l.c2 << "-" << l.classes << " " << name_of(l.act);
  if (l.group_norm) os << " groupnorm(" << l.groups << (l.norm_affine ? ", affine)" : ")");
  os << " (" << l.count << " parameters)";
  return os.str();
}

result<std::unique_ptr<network>> make_lenet(int in_channels, int image_size, int c1, int c2,
                                            int classes, activation act, norm_kind norm, int groups,
                                            bool norm_affine, forward_precision precision) {
  try {
    return std::unique_ptr<network>(std::make_unique<lenet>(
        in_channels, image_size, c1, c2, classes, act, norm, groups, norm_affine, precision));
  } catch (const std::invalid_argument& e) {
    return error_message{e.what()};
  }
}

void pad_images(float* out, const float* in, int batch, int channels, int from_size, int to_size) {
  assert(to_size >= from_size && (to_size - from_size) % 2 == 0);
  const int off = (to_size - from_size) / 2;
  const int64_t planes = static_cast<int64_t>(batch) * channels;
  std::fill_n(out, planes * to_size * to_size, 0.f);
  for (int64_t p = 0; p < planes; ++p)
    for (int r = 0; r < from_size; ++r) {
      std::memcpy(out + (p * to_size + r + off) * to_size + off,
                  in + (p * from_size + r) * from_size, sizeof(float) * from_size);
    }
}

double lenet_loss_naive(const lenet_layout& l, const double* params, const float* x,
                        const int32_t* y, int batch) {
  const int S = l.image_size, S2 = S / 2;
  const conv2d_shape s1 = conv1_shape(l, batch), s2 = conv2_shape(l, batch);
  std::vector<double> in(x, x + s1.in_count());
  std::vector<double> h1(s1.out_count()), h1n(s1.out_count());
  conv2d_forward_naive(h1.data(), in.data(), params + l.conv1_w, params + l.conv1_b, s1);
  if (l.group_norm) {
    group_norm_forward_naive(h1n.data(), h1.data(), l.norm_affine ? params + l.norm1_g : nullptr,
                             l.norm_affine ? params + l.norm1_g + l.c1 : nullptr,
                             group_norm_shape{batch, l.c1, l.groups, S * S});
    h1.swap(h1n);
  }
  for (double& v : h1) v = activation_naive(v, l.act);
  std::vector<double> pooled(s2.in_count());
  max_pool2_forward_naive(pooled.data(), h1.data(), batch * l.c1, S, S);
  std::vector<double> h2(s2.out_count()), h2n(s2.out_count());
  conv2d_forward_naive(h2.data(), pooled.data(), params + l.conv2_w, params + l.conv2_b, s2);
  if (l.group_norm) {
    group_norm_forward_naive(h2n.data(), h2.data(), l.norm_affine ? params + l.norm2_g : nullptr,
                             l.norm_affine ? params + l.norm2_g + l.c2 : nullptr,
                             group_norm_shape{batch, l.c2, l.groups, S2 * S2});
    h2.swap(h2n);
  }
  for (double& v : h2) v = activation_naive(v, l.act);
  std::vector<double> g(static_cast<size_t>(batch) * l.c2);
  global_avg_pool_forward_naive(g.data(), h2.data(), batch * l.c2, S2 * S2);
  std::vector<double> z(static_cast<size_t>(batch) * l.classes);
  for (int r = 0; r < batch; ++r) {
    for (int c = 0; c < l.classes; ++c) {
      double acc = params[l.fc_b + c];
      for (int k = 0; k < l.c2; ++k) {
        acc += params[l.fc_w + static_cast<int64_t>(c) * l.c2 + k] *
               g[static_cast<size_t>(r) * l.c2 + k];
      }
      z[static_cast<size_t>(r) * l.classes + c] = acc;
    }
  }
  return mean_cross_entropy_naive(z.data(), y, batch, l.classes);
}

double lenet_loss_naive(const lenet_layout& l, const float* params, const float* x,
                        const int32_t* y, int batch, forward_precision p) {
  const int S = l.image_size, S2 = S / 2;
  const conv2d_shape s1 = conv1_shape(l, batch), s2 = conv2_shape(l, batch);
  const std::vector<double> pd(params, params + l.count);
  // Element-wise layers in double on a convolution's output; returns them as the floats the fast
  // path hands the next convolution.
  auto norm_act = [&](std::vector<double>& h, int channels, int hw, int64_t gamma) {
    if (l.group_norm) {
      std::vector<double> n(h.size());
      group_norm_forward_naive(n.data(), h.data(), l.norm_affine ? pd.data() + gamma : nullptr,
                               l.norm_affine ? pd.data() + gamma + channels : nullptr,
                               group_norm_shape{batch, channels, l.groups, hw});
      h.swap(n);
    }
    for (double& v : h) v = activation_naive(v, l.act);
  };
  std::vector<double> h1(s1.out_count());
  conv2d_forward_lowp_naive(h1.data(), x, params + l.conv1_w, params + l.conv1_b, s1, p);
  norm_act(h1, l.c1, S * S, l.norm1_g);
  std::vector<double> pooled(s2.in_count());
  max_pool2_forward_naive(pooled.data(), h1.data(), batch * l.c1, S, S);
  const std::vector<float> pooled_f(pooled.begin(), pooled.end());
  std::vector<double> h2(s2.out_count());
  conv2d_forward_lowp_naive(h2.data(), pooled_f.data(), params + l.conv2_w, params + l.conv2_b, s2,
                            p);
  norm_act(h2, l.c2, S2 * S2, l.norm2_g);
  std::vector<double> g(static_cast<size_t>(batch) * l.c2);
  global_avg_pool_forward_naive(g.data(), h2.data(), batch * l.c2, S2 * S2);
  const std::vector<float> g_f(g.begin(), g.end());
  std::vector<double> z(static_cast<size_t>(batch) * l.classes);
  conv2d_forward_lowp_naive(z.data(), g_f.data(), params + l.fc_w, params + l.fc_b,
                            linear_shape(batch, l.c2, l.classes), p);
  return mean_cross_entropy_naive(z.data(), y, batch, l.classes);
}

}  // namespace baffle
