// Convolution through cached oneDNN 2.x primitives; GroupNorm, activations and pooling as plain
// loops that GCC vectorises (reductions via `omp simd`, whose order is fixed at compile time, so
// results are deterministic). Naive references are written straight from the definitions.
#include "models/layers.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <vector>

namespace baffle {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

size_t align64(size_t n) {
  return (n + 63) & ~size_t{63};
}

dnnl::memory::dims dims4(int a, int b, int c, int d) {
  return {a, b, c, d};
}

/// The data type a precision feeds a convolution's source and weights in.
dt input_type(forward_precision p) {
  switch (p) {
    case forward_precision::f32:
      return dt::f32;
    case forward_precision::bf16:
      return dt::bf16;
    case forward_precision::int8:
      return dt::s8;
  }
  return dt::f32;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

}  // namespace

struct conv2d_cache::impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
};

/// A forward convolution in oneDNN's preferred layouts plus the reorders from and to NCHW/OIHW.
/// Scratch layout: [src blocked][weights blocked][dst blocked][primitive scratchpad], and for bf16
/// and int8 plans then [src converted, NCHW][weights converted, OIHW][int8: weight scales (OC)].
struct conv2d_forward_plan {
  conv2d_shape shape;
  forward_precision precision = forward_precision::f32;
  size_t lowp_src_offset = 0, lowp_wei_offset = 0, scales_offset = 0;
  dnnl::engine engine;
  dnnl::memory::desc user_src, user_wei, user_dst, bias_md;
  dnnl::memory::desc src_md, wei_md, dst_md, scratchpad_md;
  dnnl::convolution_forward conv;
  std::string implementation;
  bool reorder_src = false, reorder_wei = false, reorder_dst = false;
  dnnl::reorder src_reorder, wei_reorder, dst_reorder;
  size_t src_offset = 0, wei_offset = 0, dst_offset = 0, pad_offset = 0, bytes = 0;
};

/// Backward data and weights on plain layouts (for baselines and tests; speed matters less).
/// Scratch layout: [dbias if the caller skips it][primitive scratchpad].
struct conv2d_backward_plan {
  conv2d_shape shape;
  dnnl::engine engine;
  dnnl::memory::desc src_md, wei_md, dst_md, bias_md, data_pad_md, weights_pad_md;
  dnnl::convolution_backward_data data;
  dnnl::convolution_backward_weights weights;
  size_t pad_offset = 0, bytes = 0;
};

conv2d_cache::conv2d_cache() : impl_(std::make_unique<impl>()) {}
conv2d_cache::~conv2d_cache() = default;

const conv2d_forward_plan& conv2d_cache::forward(const conv2d_shape& s,
                                                 forward_precision precision) {
  std::lock_guard lock(mutex_);
  auto& slot = forward_[{s, precision}];
  if (slot) return *slot;
  auto p = std::make_unique<conv2d_forward_plan>();
  p->shape = s;
  p->precision = precision;
  p->engine = impl_->engine;
  const auto src_dims = dims4(s.batch, s.in_channels, s.height, s.width);
  const auto wei_dims = dims4(s.out_channels, s.in_channels, s.kernel, s.kernel);
  const auto dst_dims = dims4(s.batch, s.out_channels, s.out_height(), s.out_width());
  const dt in_type = input_type(precision);
  p->user_src = {src_dims, in_type, tag::nchw};
  p->user_wei = {wei_dims, in_type, tag::oihw};
  p->user_dst = {dst_dims, dt::f32, tag::nchw};
  p->bias_md = {{s.out_channels}, dt::f32, tag::x};
  // With few input channels oneDNN's "any" picks an NHWC source (brgconv) whose reorder costs more
  // than the convolution; the plain NCHW source gets the direct jit kernel (~3x faster for IC=1).
  // bf16 likewise (jit_bf16 on NCHW: LeNet conv1 0.43 ms against 0.55 ms through brgconv with a
  // reordered source, load ~4.5); the int8 kernels want blocked or NHWC sources.
  const bool plain_src = s.in_channels < 8 && precision != forward_precision::int8;
  const dnnl::memory::desc any_src{src_dims, in_type, plain_src ? tag::nchw : tag::any};
  const dnnl::memory::desc any_wei{wei_dims, in_type, tag::any};
  const dnnl::memory::desc any_dst{dst_dims, dt::f32, tag::any};
  // int8 adds the bias itself after scaling (conv2d_forward), so the primitive has none.
  const bool primitive_bias = s.has_bias && precision != forward_precision::int8;
  const dnnl::memory::dims strides{s.stride, s.stride}, pad{s.padding, s.padding};
  // Right padding so that the output size is the floor formula's even when the last window would
  // overhang (oneDNN wants padding_r consistent with the output size).
  const dnnl::memory::dims pad_r{(s.out_height() - 1) * s.stride + s.kernel - s.height - s.padding,
                                 (s.out_width() - 1) * s.stride + s.kernel - s.width - s.padding};
  const auto attr = user_scratchpad();
  const auto desc =
      primitive_bias ? dnnl::convolution_forward::desc(
                           dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                           any_src, any_wei, p->bias_md, any_dst, strides, pad, pad_r)
                     : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                       dnnl::algorithm::convolution_direct, any_src,
                                                       any_wei, any_dst, strides, pad, pad_r);
  const dnnl::convolution_forward::primitive_desc pd(desc, attr, p->engine);
  p->implementation = pd.impl_info_str();
  p->src_md = pd.src_desc();
  p->wei_md = pd.weights_desc();
  p->dst_md = pd.dst_desc();
  p->conv = dnnl::convolution_forward(pd);
  size_t pad_bytes = pd.scratchpad_desc().get_size();
  auto make_reorder = [&](const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
    const dnnl::reorder::primitive_desc rpd(p->engine, from, p->engine, to, attr);
    pad_bytes = std::max(pad_bytes, rpd.scratchpad_desc().get_size());
    return dnnl::reorder(rpd);
  };
  size_t at = 0;
  p->reorder_src = p->src_md != p->user_src;
  if (p->reorder_src) {
    p->src_reorder = make_reorder(p->user_src, p->src_md);
    p->src_offset = at;
    at += align64(p->src_md.get_size());
  }
  p->reorder_wei = p->wei_md != p->user_wei;
  if (p->reorder_wei) {
    p->wei_reorder = make_reorder(p->user_wei, p->wei_md);
    p->wei_offset = at;
    at += align64(p->wei_md.get_size());
  }
  p->reorder_dst = p->dst_md != p->user_dst;
  if (p->reorder_dst) {
    p->dst_reorder = make_reorder(p->dst_md, p->user_dst);
    p->dst_offset = at;
    at += align64(p->dst_md.get_size());
  }
  p->pad_offset = at;
  p->scratchpad_md = {{static_cast<dnnl::memory::dim>(pad_bytes)}, dt::u8, tag::x};
  at += align64(pad_bytes);
  if (precision != forward_precision::f32) {
    p->lowp_src_offset = at;
    at += align64(p->user_src.get_size());
    p->lowp_wei_offset = at;
    at += align64(p->user_wei.get_size());
    p->scales_offset = at;
    at += align64(sizeof(float) * static_cast<size_t>(s.out_channels));
  }
  p->bytes = at;
  slot = std::move(p);
  return *slot;
}

const conv2d_backward_plan& conv2d_cache::backward(const conv2d_shape& s) {
  std::lock_guard lock(mutex_);
  auto& slot = backward_[s];
  if (slot) return *slot;
  auto p = std::make_unique<conv2d_backward_plan>();
  p->shape = s;
  p->engine = impl_->engine;
  p->src_md = {dims4(s.batch, s.in_channels, s.height, s.width), dt::f32, tag::nchw};
  p->wei_md = {dims4(s.out_channels, s.in_channels, s.kernel, s.kernel), dt::f32, tag::oihw};
  p->dst_md = {dims4(s.batch, s.out_channels, s.out_height(), s.out_width()), dt::f32, tag::nchw};
  p->bias_md = {{s.out_channels}, dt::f32, tag::x};
  const dnnl::memory::dims strides{s.stride, s.stride}, pad{s.padding, s.padding};
  const dnnl::memory::dims pad_r{(s.out_height() - 1) * s.stride + s.kernel - s.height - s.padding,
                                 (s.out_width() - 1) * s.stride + s.kernel - s.width - s.padding};
  const auto algo = dnnl::algorithm::convolution_direct;
  const auto attr = user_scratchpad();
  // The forward descriptor is only the hint the backward primitives require.
  const dnnl::convolution_forward::primitive_desc hint(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, p->src_md, p->wei_md,
                                      p->bias_md, p->dst_md, strides, pad, pad_r),
      attr, p->engine);
  const dnnl::convolution_backward_data::primitive_desc dpd(
      dnnl::convolution_backward_data::desc(algo, p->src_md, p->wei_md, p->dst_md, strides, pad,
                                            pad_r),
      attr, p->engine, hint);
  const auto wdesc =
      s.has_bias ? dnnl::convolution_backward_weights::desc(algo, p->src_md, p->wei_md, p->bias_md,
                                                            p->dst_md, strides, pad, pad_r)
                 : dnnl::convolution_backward_weights::desc(algo, p->src_md, p->wei_md, p->dst_md,
                                                            strides, pad, pad_r);
  const dnnl::convolution_backward_weights::primitive_desc wpd(wdesc, attr, p->engine, hint);
  p->data = dnnl::convolution_backward_data(dpd);
  p->weights = dnnl::convolution_backward_weights(wpd);
  const size_t pad_bytes =
      std::max(dpd.scratchpad_desc().get_size(), wpd.scratchpad_desc().get_size());
  p->pad_offset = align64(sizeof(float) * static_cast<size_t>(s.out_channels));
  p->data_pad_md = {{static_cast<dnnl::memory::dim>(pad_bytes)}, dt::u8, tag::x};
  p->weights_pad_md = p->data_pad_md;
  p->bytes = p->pad_offset + align64(pad_bytes);
  slot = std::move(p);
  return *slot;
}

size_t conv2d_forward_scratch_bytes(const conv2d_forward_plan& plan) {
  return plan.bytes;
}
size_t conv2d_backward_scratch_bytes(const conv2d_backward_plan& plan) {
  return plan.bytes;
}
const conv2d_shape& plan_shape(const conv2d_forward_plan& plan) {
  return plan.shape;
}
std::string plan_implementation(const conv2d_forward_plan& plan) {
  return plan.implementation;
}
forward_precision plan_precision(const conv2d_forward_plan& plan) {
  return plan.precision;
}

namespace {

/// Writes x and w at the plan's precision into the plan's scratch; returns the int8 input scale
/// (1 for bf16). The int8 weight scales (OC) go to the plan's scales slot.
float convert_inputs(const float* x, const float* w, const conv2d_forward_plan& plan, char* base) {
  const conv2d_shape& s = plan.shape;
  const std::span<const float> xs(x, static_cast<size_t>(s.in_count()));
  const auto n_wei = static_cast<size_t>(s.weight_count());
  switch (plan.precision) {
    case forward_precision::f32:
      return 1.f;
    case forward_precision::bf16:
      round_to_bf16({reinterpret_cast<uint16_t*>(base + plan.lowp_src_offset), xs.size()}, xs);
      round_to_bf16({reinterpret_cast<uint16_t*>(base + plan.lowp_wei_offset), n_wei}, {w, n_wei});
      return 1.f;
    case forward_precision::int8: {
      const float x_scale = int8_scale(max_abs(xs));
      quantize_int8({reinterpret_cast<int8_t*>(base + plan.lowp_src_offset), xs.size()}, xs,
                    x_scale);
      auto* q = reinterpret_cast<int8_t*>(base + plan.lowp_wei_offset);
      auto* scales = reinterpret_cast<float*>(base + plan.scales_offset);
      const size_t per_channel = n_wei / static_cast<size_t>(s.out_channels);
      for (int o = 0; o < s.out_channels; ++o) {
        const std::span<const float> wo(w + o * per_channel, per_channel);
        scales[o] = int8_scale(max_abs(wo));
        quantize_int8({q + o * per_channel, per_channel}, wo, scales[o]);
      }
      return x_scale;
    }
  }
  return 1.f;
}

/// int8 epilogue on y (B, OC, OH*OW) holding the integer sums: y = acc x_scale w_scale[o] + b[o].
void dequantize_output(float* y, float x_scale, const float* w_scales, const float* bias,
                       const conv2d_shape& s) {
  const int64_t hw = static_cast<int64_t>(s.out_height()) * s.out_width();
  for (int b = 0; b < s.batch; ++b)
    for (int o = 0; o < s.out_channels; ++o) {
      float* yo = y + (static_cast<int64_t>(b) * s.out_channels + o) * hw;
      const float scale = x_scale * w_scales[o];
      const float shift = bias ? bias[o] : 0.f;
      for (int64_t i = 0; i < hw; ++i) yo[i] = yo[i] * scale + shift;
    }
}

}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const float* bias,
                    const conv2d_forward_plan& plan, void* scratch) {
  auto* base = static_cast<char*>(scratch);
  dnnl::stream stream(plan.engine);
  const auto& e = plan.engine;
  const bool lowp = plan.precision != forward_precision::f32;
  const float x_scale = convert_inputs(x, w, plan, base);
  // oneDNN takes non-const handles; inputs are only read.
  dnnl::memory user_src(
      plan.user_src, e,
      lowp ? static_cast<void*>(base + plan.lowp_src_offset) : const_cast<float*>(x));
  dnnl::memory user_wei(
      plan.user_wei, e,
      lowp ? static_cast<void*>(base + plan.lowp_wei_offset) : const_cast<float*>(w));
  dnnl::memory user_dst(plan.user_dst, e, y);
  dnnl::memory pad(plan.scratchpad_md, e, base + plan.pad_offset);
  dnnl::memory src = user_src, wei = user_wei, dst = user_dst;
  if (plan.reorder_src) {
    src = dnnl::memory(plan.src_md, e, base + plan.src_offset);
    plan.src_reorder.execute(
        stream, {{DNNL_ARG_FROM, user_src}, {DNNL_ARG_TO, src}, {DNNL_ARG_SCRATCHPAD, pad}});
  }
  if (plan.reorder_wei) {
    wei = dnnl::memory(plan.wei_md, e, base + plan.wei_offset);
    plan.wei_reorder.execute(
        stream, {{DNNL_ARG_FROM, user_wei}, {DNNL_ARG_TO, wei}, {DNNL_ARG_SCRATCHPAD, pad}});
  }
  if (plan.reorder_dst) dst = dnnl::memory(plan.dst_md, e, base + plan.dst_offset);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src},
                                             {DNNL_ARG_WEIGHTS, wei},
                                             {DNNL_ARG_DST, dst},
                                             {DNNL_ARG_SCRATCHPAD, pad}};
  const bool int8 = plan.precision == forward_precision::int8;
  if (plan.shape.has_bias && !int8) {
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(plan.bias_md, e, const_cast<float*>(bias)));
  }
  plan.conv.execute(stream, args);
  if (plan.reorder_dst) {
    plan.dst_reorder.execute(
        stream, {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, user_dst}, {DNNL_ARG_SCRATCHPAD, pad}});
  }
  stream.wait();
  if (int8) {
    dequantize_output(y, x_scale, reinterpret_cast<const float*>(base + plan.scales_offset),
                      plan.shape.has_bias ? bias : nullptr, plan.shape);
  }
}

void conv2d_backward(float* dx, float* dw, float* dbias, const float* dy, const float* x,
                     const float* w, const conv2d_backward_plan& plan, void* scratch) {
  auto* base = static_cast<char*>(scratch);
  dnnl::stream stream(plan.engine);
  const auto& e = plan.engine;
  dnnl::memory pad(plan.data_pad_md, e, base + plan.pad_offset);
  dnnl::memory diff_dst(plan.dst_md, e, const_cast<float*>(dy));
  if (dx) {
    plan.data.execute(stream,
                      {{DNNL_ARG_DIFF_DST, diff_dst},
                       {DNNL_ARG_WEIGHTS, dnnl::memory(plan.wei_md, e, const_cast<float*>(w))},
                       {DNNL_ARG_DIFF_SRC, dnnl::memory(plan.src_md, e, dx)},
                       {DNNL_ARG_SCRATCHPAD, pad}});
  }
  std::unordered_map<int, dnnl::memory> args{
      {DNNL_ARG_SRC, dnnl::memory(plan.src_md, e, const_cast<float*>(x))},
      {DNNL_ARG_DIFF_DST, diff_dst},
      {DNNL_ARG_DIFF_WEIGHTS, dnnl::memory(plan.wei_md, e, dw)},
      {DNNL_ARG_SCRATCHPAD, pad}};
  if (plan.shape.has_bias) {
    args.emplace(DNNL_ARG_DIFF_BIAS,
                 dnnl::memory(plan.bias_md, e, dbias ? static_cast<void*>(dbias) : base));
  }
  plan.weights.execute(stream, args);
  stream.wait();
}

template <class T>
void conv2d_forward_naive(T* y, const T* x, const T* w, const T* bias, const conv2d_shape& s) {
  const int oh = s.out_height(), ow = s.out_width(), k = s.kernel;
  for (int b = 0; b < s.batch; ++b)
    for (int o = 0; o < s.out_channels; ++o)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          T acc = bias ? bias[o] : T(0);
          for (int c = 0; c < s.in_channels; ++c)
            for (int u = 0; u < k; ++u)
              for (int v = 0; v < k; ++v) {
                const int r = i * s.stride - s.padding + u, q = j * s.stride - s.padding + v;
                if (r < 0 || r >= s.height || q < 0 || q >= s.width) continue;
                acc +=
                    w[((static_cast<int64_t>(o) * s.in_channels + c) * k + u) * k + v] *
                    x[((static_cast<int64_t>(b) * s.in_channels + c) * s.height + r) * s.width + q];
              }
          y[((static_cast<int64_t>(b) * s.out_channels + o) * oh + i) * ow + j] = acc;
        }
}

template <class T>
void conv2d_backward_naive(T* dx, T* dw, T* dbias, const T* dy, const T* x, const T* w,
                           const conv2d_shape& s) {
  const int oh = s.out_height(), ow = s.out_width(), k = s.kernel;
  if (dx) std::fill_n(dx, s.in_count(), T(0));
  std::fill_n(dw, s.weight_count(), T(0));
  if (dbias) std::fill_n(dbias, s.out_channels, T(0));
  for (int b = 0; b < s.batch; ++b)
    for (int o = 0; o < s.out_channels; ++o)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          const T g = dy[((static_cast<int64_t>(b) * s.out_channels + o) * oh + i) * ow + j];
          if (dbias) dbias[o] += g;
          for (int c = 0; c < s.in_channels; ++c)
            for (int u = 0; u < k; ++u)
              for (int v = 0; v < k; ++v) {
                const int r = i * s.stride - s.padding + u, q = j * s.stride - s.padding + v;
                if (r < 0 || r >= s.height || q < 0 || q >= s.width) continue;
                const int64_t wi = ((static_cast<int64_t>(o) * s.in_channels + c) * k + u) * k + v;
                const int64_t xi =
                    ((static_cast<int64_t>(b) * s.in_channels + c) * s.height + r) * s.width + q;
                dw[wi] += g * x[xi];
                if (dx) dx[xi] += g * w[wi];
              }
        }
}

void conv2d_forward_lowp_naive(double* y, const float* x, const float* w, const float* bias,
                               const conv2d_shape& s, forward_precision p) {
  std::vector<double> xd(x, x + s.in_count()), wd(w, w + s.weight_count());
  std::vector<double> bd;
  if (s.has_bias) bd.assign(bias, bias + s.out_channels);
  switch (p) {
    case forward_precision::f32:
      break;
    case forward_precision::bf16:
      for (size_t i = 0; i < xd.size(); ++i) xd[i] = bf16_round_naive(x[i]);
      for (size_t i = 0; i < wd.size(); ++i) wd[i] = bf16_round_naive(w[i]);
      break;
    case forward_precision::int8: {
      float amax = 0.f;
      for (int64_t i = 0; i < s.in_count(); ++i) amax = std::max(amax, std::fabs(x[i]));
      const float x_scale = int8_scale(amax);
      for (size_t i = 0; i < xd.size(); ++i)
        xd[i] = static_cast<double>(quantize_int8_naive(x[i], x_scale)) * x_scale;
      const int64_t per_channel = s.weight_count() / s.out_channels;
      for (int o = 0; o < s.out_channels; ++o) {
        float wmax = 0.f;
        for (int64_t i = 0; i < per_channel; ++i)
          wmax = std::max(wmax, std::fabs(w[o * per_channel + i]));
        const float w_scale = int8_scale(wmax);
        for (int64_t i = 0; i < per_channel; ++i) {
          const int64_t at = o * per_channel + i;
          wd[at] = static_cast<double>(quantize_int8_naive(w[at], w_scale)) * w_scale;
        }
      }
      break;
    }
  }
  conv2d_forward_naive(y, xd.data(), wd.data(), s.has_bias ? bd.data() : nullptr, s);
}

template void conv2d_forward_naive<float>(float*, const float*, const float*, const float*,
                                          const conv2d_shape&);
template void conv2d_forward_naive<double>(double*, const double*, const double*, const double*,
                                           const conv2d_shape&);
template void conv2d_backward_naive<float>(float*, float*, float*, const float*, const float*,
                                           const float*, const conv2d_shape&);
template void conv2d_backward_naive<double>(double*, double*, double*, const double*, const double*,
                                            const double*, const conv2d_shape&);

// ---------------------------------------------------------------------------------------------
// GroupNorm

void group_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* gamma,
                        const float* beta, const group_norm_shape& s) {
  assert(s.channels % s.groups == 0);
  const int cpg = s.channels / s.groups;
  const int64_t n = static_cast<int64_t>(cpg) * s.hw;
  for (int b = 0; b < s.batch; ++b)
    for (int g = 0; g < s.groups; ++g) {
      const int64_t base = (static_cast<int64_t>(b) * s.channels + g * cpg) * s.hw;
      const float* xg = x + base;
      // Two passes (mean, then centred squares): no cancellation when |mean| >> std.
      float sum = 0.f;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < n; ++i) sum += xg[i];
      const float mu = sum / static_cast<float>(n);
      float sq = 0.f;
#pragma omp simd reduction(+ : sq)
      for (int64_t i = 0; i < n; ++i) sq += (xg[i] - mu) * (xg[i] - mu);
      const float rs = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(n) + s.eps));
      mean[b * s.groups + g] = mu;
      rstd[b * s.groups + g] = rs;
      for (int c = 0; c < cpg; ++c) {
        const int ch = g * cpg + c;
        const float scale = gamma ? gamma[ch] * rs : rs;
        const float shift = (beta ? beta[ch] : 0.f) - mu * scale;
        const float* xc = xg + static_cast<int64_t>(c) * s.hw;
        float* yc = y + base + static_cast<int64_t>(c) * s.hw;
        for (int i = 0; i < s.hw; ++i) yc[i] = xc[i] * scale + shift;
      }
    }
}

void group_norm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                         const float* mean, const float* rstd, const float* gamma,
                         const group_norm_shape& s) {
  const int cpg = s.channels / s.groups;
  const int64_t n = static_cast<int64_t>(cpg) * s.hw;
  if (dgamma) std::fill_n(dgamma, s.channels, 0.f);
  if (dbeta) std::fill_n(dbeta, s.channels, 0.f);
  for (int b = 0; b < s.batch; ++b)
    for (int g = 0; g < s.groups; ++g) {
      const int64_t base = (static_cast<int64_t>(b) * s.channels + g * cpg) * s.hw;
      const float mu = mean[b * s.groups + g], rs = rstd[b * s.groups + g];
      // With xhat = (x - mu) rstd and dxhat = dy gamma:
      // dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)).
      float sum_d = 0.f, sum_dx = 0.f;
      for (int c = 0; c < cpg; ++c) {
        const int ch = g * cpg + c;
        const float* xc = x + base + static_cast<int64_t>(c) * s.hw;
        const float* dyc = dy + base + static_cast<int64_t>(c) * s.hw;
        float sd = 0.f, sdx = 0.f;
#pragma omp simd reduction(+ : sd, sdx)
        for (int i = 0; i < s.hw; ++i) {
          sd += dyc[i];
          sdx += dyc[i] * (xc[i] - mu);
        }
        if (dbeta) dbeta[ch] += sd;
        if (dgamma) dgamma[ch] += sdx * rs;
        const float gm = gamma ? gamma[ch] : 1.f;
        sum_d += sd * gm;
        sum_dx += sdx * rs * gm;
      }
      const float mean_d = sum_d / static_cast<float>(n), mean_dx = sum_dx / static_cast<float>(n);
      for (int c = 0; c < cpg; ++c) {
        const int ch = g * cpg + c;
        const float gm = gamma ? gamma[ch] : 1.f;
        const float* xc = x + base + static_cast<int64_t>(c) * s.hw;
        const float* dyc = dy + base + static_cast<int64_t>(c) * s.hw;
        float* dxc = dx + base + static_cast<int64_t>(c) * s.hw;
        for (int i = 0; i < s.hw; ++i) {
          const float xhat = (xc[i] - mu) * rs;
          dxc[i] = rs * (dyc[i] * gm - mean_d - xhat * mean_dx);
        }
      }
    }
}

template <class T>
void group_norm_forward_naive(T* y, const T* x, const T* gamma, const T* beta,
                              const group_norm_shape& s) {
  const int cpg = s.channels / s.groups;
  const int64_t n = static_cast<int64_t>(cpg) * s.hw;
  for (int b = 0; b < s.batch; ++b)
    for (int g = 0; g < s.groups; ++g) {
      const int64_t base = (static_cast<int64_t>(b) * s.channels + g * cpg) * s.hw;
      T mu = 0;
      for (int64_t i = 0; i < n; ++i) mu += x[base + i];
      mu /= static_cast<T>(n);
      T var = 0;
      for (int64_t i = 0; i < n; ++i) var += (x[base + i] - mu) * (x[base + i] - mu);
      var /= static_cast<T>(n);
      const T rs = T(1) / std::sqrt(var + static_cast<T>(s.eps));
      for (int64_t i = 0; i < n; ++i) {
        const int ch = g * cpg + static_cast<int>(i / s.hw);
        T v = (x[base + i] - mu) * rs;
        if (gamma) v = v * gamma[ch] + beta[ch];
        y[base + i] = v;
      }
    }
}

template void group_norm_forward_naive<float>(float*, const float*, const float*, const float*,
                                              const group_norm_shape&);
template void group_norm_forward_naive<double>(double*, const double*, const double*, const double*,
                                               const group_norm_shape&);

// ---------------------------------------------------------------------------------------------
// Activations

namespace {

constexpr float selu_lambda = 1.0507009873554804934f;
constexpr float selu_alpha = 1.6732632423543772848f;

/// exp(x) for x <= 0 (all our callers), branch-free so loops vectorise: Cephes' expf range
/// reduction and degree-6 polynomial (max relative error ~2 ulp); x < -87 gives exp(-87).
inline float exp_nonpositive(float x) {
  x = x < -87.f ? -87.f : x;
  // Round x*log2(e) to nearest with the 1.5*2^23 trick (exact with -ffp-contract=off).
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  const float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * z + r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return e * std::bit_cast<float>(bits);
}

/// erfc(t) for t >= 0: Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7. Returning
/// erfc rather than erf keeps gelu's left tail, 0.5 x erfc(|x| / sqrt 2), free of cancellation.
inline float erfc_nonnegative(float t) {
  const float k = 1.f / (1.f + 0.3275911f * t);
  float p = 1.061405429f;
  p = p * k - 1.453152027f;
  p = p * k + 1.421413741f;
  p = p * k - 0.284496736f;
  p = p * k + 0.254829592f;
  return p * k * exp_nonpositive(-t * t);
}

constexpr float inv_sqrt2 = 0.70710678118654752f;
constexpr float inv_sqrt2pi = 0.39894228040143268f;

}  // namespace

void activation_forward(float* y, const float* x, int64_t n, activation a) {
  switch (a) {
    case activation::relu:
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
      break;
    case activation::hardswish:
      for (int64_t i = 0; i < n; ++i) {
        const float r = std::min(std::max(x[i] + 3.f, 0.f), 6.f);
        y[i] = x[i] * r * (1.f / 6.f);
      }
      break;
    case activation::selu:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float neg = selu_alpha * (exp_nonpositive(std::min(v, 0.f)) - 1.f);
        y[i] = selu_lambda * (v > 0.f ? v : neg);
      }
      break;
    case activation::gelu:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float q = erfc_nonnegative(std::fabs(v) * inv_sqrt2);
        y[i] = 0.5f * v * (v < 0.f ? q : 2.f - q);
      }
      break;
  }
}

void activation_backward(float* dx, const float* dy, const float* x, int64_t n, activation a) {
  switch (a) {
    case activation::relu:
      for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
      break;
    case activation::hardswish:
      // d/dx: 0 below -3, 1 above 3, (2x + 3) / 6 between (torch's convention at the kinks).
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float d = v < -3.f ? 0.f : (v > 3.f ? 1.f : (2.f * v + 3.f) * (1.f / 6.f));
        dx[i] = dy[i] * d;
      }
      break;
    case activation::selu:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float d =
            v > 0.f ? selu_lambda : selu_lambda * selu_alpha * exp_nonpositive(std::min(v, 0.f));
        dx[i] = dy[i] * d;
      }
      break;
    case activation::gelu:
      for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float q = erfc_nonnegative(std::fabs(v) * inv_sqrt2);
        const float cdf = 0.5f * (v < 0.f ? q : 2.f - q);
        const float pdf = inv_sqrt2pi * exp_nonpositive(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
      }
      break;
  }
}

template <class T>
T activation_naive(T x, activation a) {
  switch (a) {
    case activation::relu:
      return x > 0 ? x : T(0);
    case activation::hardswish:
      return x * std::min(std::max(x + T(3), T(0)), T(6)) / T(6);
    case activation::selu:
      return T(1.0507009873554804934) *
             (x > 0 ? x : T(1.6732632423543772848) * (std::exp(x) - T(1)));
    case activation::gelu:
      return T(0.5) * x * (T(1) + std::erf(x / std::sqrt(T(2))));
  }
  return x;
}

template <class T>
T activation_derivative_naive(T x, activation a) {
  switch (a) {
    case activation::relu:
      return x > 0 ? T(1) : T(0);
    case activation::hardswish:
      return x < -3 ? T(0) : (x > 3 ? T(1) : (T(2) * x + T(3)) / T(6));
    case activation::selu:
      return x > 0 ? T(1.0507009873554804934)
                   : T(1.0507009873554804934) * T(1.6732632423543772848) * std::exp(x);
    case activation::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(x / std::sqrt(T(2))));
      const T pdf = std::exp(-x * x / T(2)) / std::sqrt(T(2) * T(3.14159265358979323846));
      return cdf + x * pdf;
    }
  }
  return T(1);
}

template float activation_naive<float>(float, activation);
template double activation_naive<double>(double, activation);
template float activation_derivative_naive<float>(float, activation);
template double activation_derivative_naive<double>(double, activation);

// ---------------------------------------------------------------------------------------------
// Pooling

void max_pool2_forward(float* y, const float* x, int planes, int height, int width) {
  const int oh = height / 2, ow = width / 2;
  for (int p = 0; p < planes; ++p)
    for (int i = 0; i < oh; ++i) {
      const float* r0 = x + (static_cast<int64_t>(p) * height + 2 * i) * width;
      const float* r1 = r0 + width;
      float* yr = y + (static_cast<int64_t>(p) * oh + i) * ow;
      for (int j = 0; j < ow; ++j) {
        yr[j] = std::max(std::max(r0[2 * j], r0[2 * j + 1]), std::max(r1[2 * j], r1[2 * j + 1]));
      }
    }
}

void max_pool2_backward(float* dx, const float* dy, const float* x, const float* y, int planes,
                        int height, int width) {
  const int oh = height / 2, ow = width / 2;
  std::fill_n(dx, static_cast<int64_t>(planes) * height * width, 0.f);
  for (int p = 0; p < planes; ++p)
    for (int i = 0; i < oh; ++i) {
      const int64_t r0 = (static_cast<int64_t>(p) * height + 2 * i) * width;
      const int64_t r1 = r0 + width;
      const int64_t o = (static_cast<int64_t>(p) * oh + i) * ow;
      for (int j = 0; j < ow; ++j) {
        const float m = y[o + j];
        const int64_t at = x[r0 + 2 * j] == m       ? r0 + 2 * j
                           : x[r0 + 2 * j + 1] == m ? r0 + 2 * j + 1
                           : x[r1 + 2 * j] == m     ? r1 + 2 * j
                                                    : r1 + 2 * j + 1;
        dx[at] = dy[o + j];
      }
    }
}

template <class T>
void max_pool2_forward_naive(T* y, const T* x, int planes, int height, int width) {
  const int oh = height / 2, ow = width / 2;
  for (int p = 0; p < planes; ++p)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        T m = x[(static_cast<int64_t>(p) * height + 2 * i) * width + 2 * j];
        for (int u = 0; u < 2; ++u)
          for (int v = 0; v < 2; ++v)
            m = std::max(m, x[(static_cast<int64_t>(p) * height + 2 * i + u) * width + 2 * j + v]);
        y[(static_cast<int64_t>(p) * oh + i) * ow + j] = m;
      }
}

template void max_pool2_forward_naive<float>(float*, const float*, int, int, int);
template void max_pool2_forward_naive<double>(double*, const double*, int, int, int);

void avg_pool_forward(float* y, const float* x, int planes, int height, int width, int kernel,
                      int stride) {
  const int oh = avg_pool_out_size(height, kernel, stride),
            ow = avg_pool_out_size(width, kernel, stride);
  if (oh == 0 || ow == 0) return;
  const float inv = 1.f / static_cast<float>(kernel * kernel);
  if (kernel == 2 && stride == 2) {
    for (int p = 0; p < planes; ++p)
      for (int i = 0; i < oh; ++i) {
        const float* r0 = x + (static_cast<int64_t>(p) * height + 2 * i) * width;
        const float* r1 = r0 + width;
        float* yr = y + (static_cast<int64_t>(p) * oh + i) * ow;
        for (int j = 0; j < ow; ++j) {
          yr[j] = ((r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1])) * inv;
        }
      }
    return;
  }
  // General case: sum the kernel rows of a window band into col (contiguous, vectorised), then
  // sum kernel-wide strided slices of col.
  const int used = (ow - 1) * stride + kernel;  // columns some window covers
  std::vector<float> col(used);
  for (int p = 0; p < planes; ++p)
    for (int i = 0; i < oh; ++i) {
      const float* r =
          x + (static_cast<int64_t>(p) * height + static_cast<int64_t>(i) * stride) * width;
      float* c = col.data();
      std::copy_n(r, used, c);
      for (int u = 1; u < kernel; ++u) {
        const float* ru = r + static_cast<int64_t>(u) * width;
        for (int w = 0; w < used; ++w) c[w] += ru[w];
      }
      float* yr = y + (static_cast<int64_t>(p) * oh + i) * ow;
      for (int j = 0; j < ow; ++j) {
        float sum = 0.f;
        for (int v = 0; v < kernel; ++v) sum += c[j * stride + v];
        yr[j] = sum * inv;
      }
    }
}

void avg_pool_backward(float* dx, const float* dy, int planes, int height, int width, int kernel,
                       int stride) {
  const int oh = avg_pool_out_size(height, kernel, stride),
            ow = avg_pool_out_size(width, kernel, stride);
  const float inv = 1.f / static_cast<float>(kernel * kernel);
  if (kernel == 2 && stride == 2 && height % 2 == 0 && width % 2 == 0) {
    // The windows tile x exactly: every dx is written once, no zero fill needed.
    for (int p = 0; p < planes; ++p)
      for (int i = 0; i < oh; ++i) {
        float* r0 = dx + (static_cast<int64_t>(p) * height + 2 * i) * width;
        float* r1 = r0 + width;
        const float* dyr = dy + (static_cast<int64_t>(p) * oh + i) * ow;
        for (int j = 0; j < ow; ++j) {
          const float g = dyr[j] * inv;
          r0[2 * j] = g;
          r0[2 * j + 1] = g;
          r1[2 * j] = g;
          r1[2 * j + 1] = g;
        }
      }
    return;
  }
  std::fill_n(dx, static_cast<int64_t>(planes) * height * width, 0.f);
  if (oh == 0 || ow == 0) return;
  // General case: spread one output row's gradients over the covered columns (row), then add row
  // to each of the kernel input rows of the band (contiguous, vectorised; windows may overlap).
  const int used = (ow - 1) * stride + kernel;
  std::vector<float> row(used);
  for (int p = 0; p < planes; ++p)
    for (int i = 0; i < oh; ++i) {
      float* e = row.data();
      std::fill_n(e, used, 0.f);
      const float* dyr = dy + (static_cast<int64_t>(p) * oh + i) * ow;
      for (int j = 0; j < ow; ++j) {
        const float g = dyr[j] * inv;
        for (int v = 0; v < kernel; ++v) e[j * stride + v] += g;
      }
      float* r = dx + (static_cast<int64_t>(p) * height + static_cast<int64_t>(i) * stride) * width;
      for (int u = 0; u < kernel; ++u) {
        float* ru = r + static_cast<int64_t>(u) * width;
        for (int w = 0; w < used; ++w) ru[w] += e[w];
      }
    }
}

template <class T>
void avg_pool_forward_naive(T* y, const T* x, int planes, int height, int width, int kernel,
                            int stride) {
  const int oh = avg_pool_out_size(height, kernel, stride),
            ow = avg_pool_out_size(width, kernel, stride);
  for (int p = 0; p < planes; ++p)
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) {
        T sum = 0;
        for (int u = 0; u < kernel; ++u)
          for (int v = 0; v < kernel; ++v)
            sum += x[(static_cast<int64_t>(p) * height + i * stride + u) * width + j * stride + v];
        y[(static_cast<int64_t>(p) * oh + i) * ow + j] = sum / static_cast<T>(kernel * kernel);
      }
}

template void avg_pool_forward_naive<float>(float*, const float*, int, int, int, int, int);
template void avg_pool_forward_naive<double>(double*, const double*, int, int, int, int, int);

void global_avg_pool_forward(float* y, const float* x, int planes, int hw) {
  const float inv = 1.f / static_cast<float>(hw);
  for (int p = 0; p < planes; ++p) {
    const float* xp = x + static_cast<int64_t>(p) * hw;
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < hw; ++i) sum += xp[i];
    y[p] = sum * inv;
  }
}

void global_avg_pool_backward(float* dx, const float* dy, int planes, int hw) {
  const float inv = 1.f / static_cast<float>(hw);
  for (int p = 0; p < planes; ++p) {
    const float g = dy[p] * inv;
    float* dxp = dx + static_cast<int64_t>(p) * hw;
    for (int i = 0; i < hw; ++i) dxp[i] = g;
  }
}

template <class T>
void global_avg_pool_forward_naive(T* y, const T* x, int planes, int hw) {
  for (int p = 0; p < planes; ++p) {
    T sum = 0;
    for (int i = 0; i < hw; ++i) sum += x[static_cast<int64_t>(p) * hw + i];
    y[p] = sum / static_cast<T>(hw);
  }
}

template void global_avg_pool_forward_naive<float>(float*, const float*, int, int);
template void global_avg_pool_forward_naive<double>(double*, const double*, int, int);

}  // namespace baffle
