// WRN forward (oneDNN convolutions, vectorised GroupNorm/activation loops, sgemm head) and its
// backward pass, following the BAFFLE reference's model/wideresnet.py layer for layer.
#include "models/wrn.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "models/compute.hpp"
#include "models/mlp.hpp"
#include "models/philox.hpp"

namespace baffle {

namespace {

// Workspace buffers (floats).
//   0 scratch (oneDNN reorders and scratchpad), 1 stem out (B, 16, S, S), 2 shortcut conv out.
//   Per block, 8 buffers from block_base: n1 (GroupNorm of the input), stats1 (mean (B, G) then
//   rstd (B, G)), a1 (act(n1)), z1 (conv1 out), n2, stats2, a2, out (z2 + shortcut). loss() uses
//   two alternating sets (a block reads only its predecessor's out) and runs activations in place;
//   loss_and_grad() keeps one set per block for the backward pass.
//   Then the head and the gradients (head_base + head_buffer).
constexpr size_t scratch = 0, stem_out = 1, shortcut_out = 2, first_block = 3;
enum block_buffer : size_t { n1, stats1, a1, z1, n2, stats2, a2, out, per_block };
enum head_buffer : size_t {
  nf,        // final GroupNorm out (B, C, s, s)
  statsf,    // mean, rstd (B, G)
  af,        // act(nf)
  gap,       // (B, C)
  logits,    // (B, classes)
  d_logits,  // (B, classes)
  d_gap,     // (B, C)
  d_ping,    // gradient w.r.t. a block output / input, alternating
  d_pong,
  d_a2,  // (B, out, s', s')
  d_z1,
  d_a1,  // (B, in, s, s)
  d_shortcut,
};

constexpr int stem_channels = 16;

/// 64-byte aligned scratch of at least `bytes` from workspace buffer `scratch`.
void* aligned_scratch(workspace& ws, size_t bytes) {
  float* p = ws.get(scratch, bytes / sizeof(float) + 32);
  const auto at = (reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63};
  return reinterpret_cast<void*>(at);
}

conv2d_shape stem_shape(const wrn_layout& l, int batch) {
  return conv2d_shape{batch, l.in_channels, stem_channels, l.image_size, l.image_size, 3, 1,
                      1,     true};
}
conv2d_shape conv1_shape(const wrn_block_layout& k, int batch) {
  return conv2d_shape{batch, k.in_channels, k.out_channels, k.in_size, k.in_size, 3, k.stride,
                      1,     false};
}
conv2d_shape conv2_shape(const wrn_block_layout& k, int batch) {
  return conv2d_shape{batch, k.out_channels, k.out_channels, k.out_size, k.out_size, 3, 1,
                      1,     false};
}
conv2d_shape shortcut_shape(const wrn_block_layout& k, int batch) {
  return conv2d_shape{batch, k.in_channels, k.out_channels, k.in_size, k.in_size, 1, k.stride,
                      0,     false};
}

/// y (B, OC, OH, OW) = conv(x) through the cached forward plan of shape s at precision p.
void run_conv(float* y, const float* x, const float* w, const float* bias, const conv2d_shape& s,
              conv2d_cache& cache, workspace& ws, forward_precision p) {
  const conv2d_forward_plan& plan = cache.forward(s, p);
  conv2d_forward(y, x, w, bias, plan, aligned_scratch(ws, conv2d_forward_scratch_bytes(plan)));
}

/// dx (null: skipped), dw, dbias (null: none) of the conv of shape s from dy.
void run_conv_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                       const float* w, const conv2d_shape& s, conv2d_cache& cache, workspace& ws) {
  const conv2d_backward_plan& plan = cache.backward(s);
  conv2d_backward(dx, dw, dbias, dy, x, w, plan,
                  aligned_scratch(ws, conv2d_backward_scratch_bytes(plan)));
}

/// y (n) += x (n).
void add_into(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

int64_t elements(int batch, int channels, int size) {
  return static_cast<int64_t>(batch) * channels * size * size;
}

}  // namespace

wrn::wrn(int in_channels, int image_size, int depth, int width, int classes, activation act,
         int groups, forward_precision precision)
    : network(precision) {
  auto& l = layout_;
  if (in_channels < 1 || image_size < 1 || classes < 2) {
    throw std::invalid_argument("wrn: in_channels = " + std::to_string(in_channels) +
                                ", image_size = " + std::to_string(image_size) +
                                " must be >= 1 and classes = " + std::to_string(classes) + " >= 2");
  }
  if (depth < 10 || (depth - 4) % 6 != 0) {
    throw std::invalid_argument("wrn: model.depth = " + std::to_string(depth) +
                                " is not 6n + 4 with n >= 1 (allowed: 10, 16, 22, 28, ...)");
  }
  // 64 keeps every size in int; WRN-depth-64 is already ~600x WRN-10-2's cost.
  if (width < 1 || width > 64) {
    throw std::invalid_argument("wrn: model.width = " + std::to_string(width) +
                                " must be between 1 and 64");
  }
  l.act = act;
  if (groups < 0 || (groups > 0 && stem_channels % groups != 0)) {
    throw std::invalid_argument("wrn: model.groups = " + std::to_string(groups) +
                                " must be 0 (the reference's C / 16 groups) or divide 16");
  }
  l.in_channels = in_channels;
  l.image_size = image_size;
  l.depth = depth;
  l.width = width;
  l.classes = classes;
  l.groups = groups;
  l.stem_channels = stem_channels;
  // The reference: max(2, C / 16) groups inside blocks, C / 16 before the pool.
  auto block_groups = [groups](int c) { return groups > 0 ? groups : std::max(2, c / 16); };

  int64_t at = 0;
  auto take = [&at](int64_t n) {
    const int64_t o = at;
    at += n;
    return o;
  };
  // Parameter count, checked against the reference's 302,506 for WRN-10-2 on 1 x 32 x 32 and 10
  // classes: conv weights 1*16*9 + (16*32*9 + 32*32*9 + 16*32) + (32*64*9 + 64*64*9 + 32*64)
  // + (64*128*9 + 128*128*9 + 64*128) = 301,200, linear 128*10 + 10 = 1,290, and the stem bias
  // 16: the reference's _PreProcess conv0 has bias=True while every block conv has bias=False,
  // and GroupNorm has affine=False (no gamma/beta). Without that stem bias it would be 302,490.
  l.stem_w = take(static_cast<int64_t>(stem_channels) * in_channels * 9);
  l.stem_b = take(stem_channels);
  const int n = (depth - 4) / 6;
  int channels = stem_channels, size = image_size;
  for (int g = 0; g < 3; ++g) {
    const int out_channels = (16 << g) * width;
    for (int i = 0; i < n; ++i) {
      wrn_block_layout k;
      k.in_channels = channels;
      k.out_channels = out_channels;
      k.stride = (g > 0 && i == 0) ? 2 : 1;
      k.in_size = size;
      k.out_size = (size - 1) / k.stride + 1;
      k.in_groups = block_groups(k.in_channels);
      k.out_groups = block_groups(k.out_channels);
      k.conv1_w = take(static_cast<int64_t>(k.out_channels) * k.in_channels * 9);
      k.conv2_w = take(static_cast<int64_t>(k.out_channels) * k.out_channels * 9);
      if (k.in_channels != k.out_channels || k.stride != 1) {
        k.shortcut_w = take(static_cast<int64_t>(k.out_channels) * k.in_channels);
      }
      l.blocks.push_back(k);
      channels = out_channels;
      size = k.out_size;
    }
  }
  l.final_channels = channels;
  l.final_size = size;
  l.final_groups = groups > 0 ? groups : channels / 16;
  l.fc_w = take(static_cast<int64_t>(classes) * channels);
  l.fc_b = take(classes);
  l.count = at;
}

void wrn::init(std::span<float> params, uint64_t seed) const {
  const auto& l = layout_;
  assert(static_cast<int64_t>(params.size()) == l.count);
  uint32_t stream = 0;
  auto uniform = [&](int64_t offset, int64_t n, double bound) {
    const stream_id s{seed, purpose::init, stream++};
    for (int64_t i = 0; i < n; ++i) {
      params[offset + i] = static_cast<float>((2.0 * uniform01(s, i) - 1.0) * bound);
    }
  };
  // The reference calls nn.init.kaiming_uniform_(w) with its defaults (a = 0, leaky_relu gain
  // sqrt 2, fan_in = in * k * k): U(-b, b), b = sqrt(6 / fan_in). That is sqrt 6 times the bound
  // of PyTorch's Conv2d default (a = sqrt 5, b = 1 / sqrt(fan_in)), which the reference overrides.
  auto conv = [&](int64_t offset, int out, int in, int kernel) {
    const double fan_in = static_cast<double>(in) * kernel * kernel;
    uniform(offset, static_cast<int64_t>(out) * in * kernel * kernel, std::sqrt(6.0 / fan_in));
  };
  conv(l.stem_w, stem_channels, l.in_channels, 3);
  std::fill_n(params.begin() + l.stem_b, stem_channels, 0.f);
  for (const auto& k : l.blocks) {
    conv(k.conv1_w, k.out_channels, k.in_channels, 3);
    conv(k.conv2_w, k.out_channels, k.out_channels, 3);
    if (k.shortcut_w >= 0) conv(k.shortcut_w, k.out_channels, k.in_channels, 1);
  }
  uniform(l.fc_w, static_cast<int64_t>(l.classes) * l.final_channels,
          std::sqrt(6.0 / (l.final_channels + l.classes)));
  std::fill_n(params.begin() + l.fc_b, l.classes, 0.f);
}

double wrn::forward_flops(int batch) const {
  const auto& l = layout_;
  const conv2d_shape s0 = stem_shape(l, batch);
  double f = 2.0 * s0.macs() + static_cast<double>(s0.out_count());  // stem with bias
  for (const auto& k : l.blocks) {
    const double e_in = static_cast<double>(elements(batch, k.in_channels, k.in_size));
    const double e_out = static_cast<double>(elements(batch, k.out_channels, k.out_size));
    f += 6.0 * e_in + e_in;  // GroupNorm (sum, centred square, scale, shift) and activation
    f += 2.0 * conv1_shape(k, batch).macs();
    f += 6.0 * e_out + e_out;
    f += 2.0 * conv2_shape(k, batch).macs();
    if (k.shortcut_w >= 0) f += 2.0 * shortcut_shape(k, batch).macs();
    f += e_out;  // residual add
  }
  const double e = static_cast<double>(elements(batch, l.final_channels, l.final_size));
  f += 6.0 * e + e + e;  // GroupNorm, activation, global average pool
  f += 2.0 * batch * l.final_channels * l.classes + batch * l.classes;  // linear
  f += 5.0 * batch * l.classes;                                         // softmax cross-entropy
  return f;
}

const float* wrn::forward(std::span<const float> params, const batch_view& b, workspace& ws,
                          bool keep, forward_precision prec) const {
  const auto& l = layout_;
  const float* p = params.data();
  const int B = b.size;
  assert(static_cast<int64_t>(b.x.size()) >= elements(B, l.in_channels, l.image_size));
  const size_t blocks = l.blocks.size();

  // Stem. x: (B, in, S, S) -> (B, 16, S, S)
  float* x = ws.get(stem_out, elements(B, stem_channels, l.image_size));
  run_conv(x, b.x.data(), p + l.stem_w, p + l.stem_b, stem_shape(l, B), cache_, ws, prec);

  for (size_t i = 0; i < blocks; ++i) {
    const auto& k = l.blocks[i];
    const size_t base = first_block + per_block * (keep ? i : i % 2);
    const int64_t e_in = elements(B, k.in_channels, k.in_size);
    const int64_t e_out = elements(B, k.out_channels, k.out_size);
    // x: (B, in, s, s) -> n1 -> a1 -> z1: (B, out, s', s') -> n2 -> a2 -> out = conv2(a2) + sc
    float* st = ws.get(base + stats1, 2 * static_cast<size_t>(B) * k.in_groups);
    float* n = ws.get(base + n1, e_in);
    group_norm_forward(n, st, st + B * k.in_groups, x, nullptr, nullptr,
                       group_norm_shape{B, k.in_channels, k.in_groups, k.in_size * k.in_size});
    float* a = keep ? ws.get(base + a1, e_in) : n;
    activation_forward(a, n, e_in, l.act);
    float* z = ws.get(base + z1, e_out);
    run_conv(z, a, p + k.conv1_w, nullptr, conv1_shape(k, B), cache_, ws, prec);
    st = ws.get(base + stats2, 2 * static_cast<size_t>(B) * k.out_groups);
    n = ws.get(base + n2, e_out);
    group_norm_forward(n, st, st + B * k.out_groups, z, nullptr, nullptr,
                       group_norm_shape{B, k.out_channels, k.out_groups, k.out_size * k.out_size});
    float* a_2 = keep ? ws.get(base + a2, e_out) : n;
    activation_forward(a_2, n, e_out, l.act);
    float* y = ws.get(base + out, e_out);
    run_conv(y, a_2, p + k.conv2_w, nullptr, conv2_shape(k, B), cache_, ws, prec);
    if (k.shortcut_w >= 0) {
      // The reference's i_block is its own GroupNorm -> act of x; without affine terms it equals
      // a1, so the 1x1 conv reads a1.
      float* sc = ws.get(shortcut_out, e_out);
      run_conv(sc, a, p + k.shortcut_w, nullptr, shortcut_shape(k, B), cache_, ws, prec);
      add_into(y, sc, e_out);
    } else {
      add_into(y, x, e_out);
    }
    x = y;
  }

  // Head. x: (B, C, s, s) -> nf -> af -> gap: (B, C) -> logits: (B, classes)
  const size_t head = first_block + per_block * blocks;
  const int C = l.final_channels, hw = l.final_size * l.final_size;
  const int64_t e = elements(B, C, l.final_size);
  float* st = ws.get(head + statsf, 2 * static_cast<size_t>(B) * l.final_groups);
  float* n = ws.get(head + nf, e);
  group_norm_forward(n, st, st + B * l.final_groups, x, nullptr, nullptr,
                     group_norm_shape{B, C, l.final_groups, hw});
  float* a = keep ? ws.get(head + af, e) : n;
  activation_forward(a, n, e, l.act);
  float* g = ws.get(head + gap, static_cast<size_t>(B) * C);
  global_avg_pool_forward(g, a, B * C, hw);
  float* o = ws.get(head + logits, static_cast<size_t>(B) * l.classes);
  linear_forward(o, g, p + l.fc_w, p + l.fc_b, B, C, l.classes, prec, cache_, ws, scratch);
  return o;
}

loss_stats wrn::loss_at(forward_precision prec, std::span<const float> params, const batch_view& b,
                        workspace& ws) const {
  const float* o = forward(params, b, ws, false, prec);
  return softmax_cross_entropy(o, b.y.data(), b.size, layout_.classes);
}

loss_stats wrn::loss_and_grad(std::span<const float> params, const batch_view& b,
                              std::span<float> grad, workspace& ws) const {
  const auto& l = layout_;
  assert(static_cast<int64_t>(grad.size()) == l.count);
  const float* o = forward(params, b, ws, true, forward_precision::f32);
  const int B = b.size, C = l.final_channels, hw = l.final_size * l.final_size;
  const size_t blocks = l.blocks.size();
  const size_t head = first_block + per_block * blocks;
  const float* p = params.data();
  float* gr = grad.data();
  auto buf = [&ws](size_t i) { return ws.buffers[i].data(); };
  auto block_out = [&](size_t i) {
    return i == 0 ? buf(stem_out) : buf(first_block + per_block * (i - 1) + out);
  };

  float* dl = ws.get(head + d_logits, static_cast<size_t>(B) * l.classes);
  const loss_stats st =
      softmax_cross_entropy(o, b.y.data(), B, l.classes, dl, 1.f / static_cast<float>(B));

  // Head: dW (classes, C) = dl^T . gap; db = column sums of dl; dgap (B, C) = dl . W.
  sgemm(true, false, l.classes, C, B, 1.f, dl, l.classes, buf(head + gap), C, 0.f, gr + l.fc_w, C);
  std::fill_n(gr + l.fc_b, l.classes, 0.f);
  for (int r = 0; r < B; ++r)
    for (int c = 0; c < l.classes; ++c)
      gr[l.fc_b + c] += dl[static_cast<size_t>(r) * l.classes + c];
  float* dg = ws.get(head + d_gap, static_cast<size_t>(B) * C);
  sgemm(false, false, B, C, l.classes, 1.f, dl, l.classes, p + l.fc_w, C, 0.f, dg, C);

  // gap -> act -> GroupNorm: dy = gradient w.r.t. the last block's output.
  size_t dy_at = head + d_ping, dx_at = head + d_pong;
  const int64_t e = elements(B, C, l.final_size);
  float* da = ws.get(dx_at, e);
  global_avg_pool_backward(da, dg, B * C, hw);
  activation_backward(da, da, buf(head + nf), e, l.act);
  float* dy = ws.get(dy_at, e);
  const float* stf = buf(head + statsf);
  group_norm_backward(dy, nullptr, nullptr, da, block_out(blocks), stf, stf + B * l.final_groups,
                      nullptr, group_norm_shape{B, C, l.final_groups, hw});

  for (size_t i = blocks; i-- > 0;) {
    const auto& k = l.blocks[i];
    const size_t base = first_block + per_block * i;
    const int64_t e_in = elements(B, k.in_channels, k.in_size);
    const int64_t e_out = elements(B, k.out_channels, k.out_size);
    // out = conv2(a2) + shortcut: dy flows into both unchanged.
    float* d2 = ws.get(head + d_a2, e_out);
    run_conv_backward(d2, gr + k.conv2_w, nullptr, dy, buf(base + a2), p + k.conv2_w,
                      conv2_shape(k, B), cache_, ws);
    activation_backward(d2, d2, buf(base + n2), e_out, l.act);
    float* dz = ws.get(head + d_z1, e_out);
    const float* s2 = buf(base + stats2);
    group_norm_backward(dz, nullptr, nullptr, d2, buf(base + z1), s2, s2 + B * k.out_groups,
                        nullptr,
                        group_norm_shape{B, k.out_channels, k.out_groups, k.out_size * k.out_size});
    float* d1 = ws.get(head + d_a1, e_in);
    run_conv_backward(d1, gr + k.conv1_w, nullptr, dz, buf(base + a1), p + k.conv1_w,
                      conv1_shape(k, B), cache_, ws);
    if (k.shortcut_w >= 0) {
      float* dsc = ws.get(head + d_shortcut, e_in);
      run_conv_backward(dsc, gr + k.shortcut_w, nullptr, dy, buf(base + a1), p + k.shortcut_w,
                        shortcut_shape(k, B), cache_, ws);
      add_into(d1, dsc, e_in);
    }
    activation_backward(d1, d1, buf(base + n1), e_in, l.act);
    float* dx = ws.get(dx_at, e_in);
    const float* s1 = buf(base + stats1);
    group_norm_backward(dx, nullptr, nullptr, d1, block_out(i), s1, s1 + B * k.in_groups, nullptr,
                        group_norm_shape{B, k.in_channels, k.in_groups, k.in_size * k.in_size});
    if (k.shortcut_w < 0) add_into(dx, dy, e_in);
    std::swap(dy_at, dx_at);
    dy = dx;
  }

  // Stem: no input gradient needed.
  run_conv_backward(nullptr, gr + l.stem_w, gr + l.stem_b, dy, b.x.data(), p + l.stem_w,
                    stem_shape(l, B), cache_, ws);
  return st;
}

std::string wrn::describe() const {
  const auto& l = layout_;
  std::ostringstream os;
  os << "wrn-" << l.depth << "-" << l.width << " " << l.in_channels << "x" << l.image_size << "x"
     << l.image_size << " -> " << l.classes << " " << name_of(l.act) << " groupnorm(";
  if (l.groups > 0) {
    os << l.groups;
  } else {
    os << "C/16";
  }
  os << ") (" << l.count << " parameters)";
  return os.str();
}

result<std::unique_ptr<network>> make_wrn(int in_channels, int image_size, int depth, int width,
                                          int classes, activation act, int groups,
                                          forward_precision precision) {
  try {
    return std::unique_ptr<network>(std::make_unique<wrn>(in_channels, image_size, depth, width,
                                                          classes, act, groups, precision));
  } catch (const std::invalid_argument& e) {
    return error_message{e.what()};
  }
}

}  // namespace baffle
