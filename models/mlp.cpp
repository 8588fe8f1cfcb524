// MLP forward and backward on a flat parameter buffer; ReLU hidden activations.
#include "models/mlp.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <sstream>

#include "models/compute.hpp"
#include "models/lenet.hpp"
#include "models/philox.hpp"
#include "models/wrn.hpp"

namespace baffle {

mlp::mlp(int inputs, std::vector<int> hidden, int classes, forward_precision precision)
    : network(precision) {
  int in = inputs;
  hidden.push_back(classes);
  for (int out : hidden) {
    linear_layout l;
    l.in = in;
    l.out = out;
    l.weight_offset = param_count_;
    param_count_ += static_cast<int64_t>(in) * out;
    l.bias_offset = param_count_;
    param_count_ += out;
    layers_.push_back(l);
    in = out;
  }
}

void mlp::init(std::span<float> params, uint64_t seed) const {
  assert(static_cast<int64_t>(params.size()) == param_count_);
  // Xavier-uniform weights, zero biases (the reference code's initialisation of linear layers).
  for (size_t li = 0; li < layers_.size(); ++li) {
    const auto& l = layers_[li];
    const stream_id s{seed, purpose::init, static_cast<uint32_t>(li)};
    const double bound = std::sqrt(6.0 / (l.in + l.out));
    const int64_t n = static_cast<int64_t>(l.in) * l.out;
    for (int64_t i = 0; i < n; ++i) {
      params[l.weight_offset + i] = static_cast<float>((2.0 * uniform01(s, i) - 1.0) * bound);
    }
    std::fill_n(params.begin() + l.bias_offset, l.out, 0.f);
  }
}

double mlp::forward_flops(int batch) const {
  double f = 0;
  for (const auto& l : layers_) f += 2.0 * batch * l.in * l.out + 2.0 * batch * l.out;
  // Softmax cross-entropy: exp, max, sums, about 5 operations per logit.
  f += 5.0 * batch * layers_.back().out;
  return f;
}

void linear_forward(float* y, const float* x, const float* w, const float* bias, int batch, int in,
                    int out, forward_precision p, conv2d_cache& cache, workspace& ws,
                    size_t scratch_buffer) {
  if (p == forward_precision::f32) {
    for (int r = 0; r < batch; ++r)
      std::memcpy(y + static_cast<size_t>(r) * out, bias, sizeof(float) * out);
    sgemm(false, true, batch, out, in, 1.f, x, in, w, in, 1.f, y, out);
    return;
  }
  const conv2d_forward_plan& plan = cache.forward(linear_shape(batch, in, out), p);
  const size_t bytes = conv2d_forward_scratch_bytes(plan);
  float* raw = ws.get(scratch_buffer, bytes / sizeof(float) + 16);
  const auto at = (reinterpret_cast<uintptr_t>(raw) + 63) & ~uintptr_t{63};
  conv2d_forward(y, x, w, bias, plan, reinterpret_cast<void*>(at));
}

const float* mlp::forward(std::span<const float> params, const batch_view& b, workspace& ws,
                          forward_precision prec) const {
  const float* a = b.x.data();
  const float* p = params.data();
  for (size_t li = 0; li < layers_.size(); ++li) {
    const auto& l = layers_[li];
    // z: (B, out) = a (B, in) . W^T (in, out) + bias; buffer 0 is the low-precision scratch.
    float* z = ws.get(li + 1, static_cast<size_t>(b.size) * l.out);
    linear_forward(z, a, p + l.weight_offset, p + l.bias_offset, b.size, l.in, l.out, prec, cache_,
                   ws, 0);
    if (li + 1 < layers_.size()) {
      const size_t n = static_cast<size_t>(b.size) * l.out;
      for (size_t i = 0; i < n; ++i) z[i] = z[i] > 0.f ? z[i] : 0.f;
    }
    a = z;
  }
  return a;
}

loss_stats softmax_cross_entropy(const float* logits, const int32_t* labels, int batch, int classes,
                                 float* dlogits, float scale) {
  loss_stats st;
  for (int r = 0; r < batch; ++r) {
    const float* z = logits + static_cast<size_t>(r) * classes;
    int arg = 0;
    float mx = z[0];
    for (int c = 1; c < classes; ++c) {
      if (z[c] > mx) {
        mx = z[c];
        arg = c;
      }
    }
    double sum = 0.0;
    for (int c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(z[c] - mx));
    const double lse = std::log(sum) + mx;
    const int y = labels[r];
    st.loss_sum += lse - z[y];
    st.correct += (arg == y);
    if (dlogits) {
      float* d = dlogits + static_cast<size_t>(r) * classes;
      for (int c = 0; c < classes; ++c) {
        const double p = std::exp(static_cast<double>(z[c]) - lse);
        d[c] = static_cast<float>((p - (c == y ? 1.0 : 0.0)) * scale);
      }
    }
  }
  st.count = batch;
  return st;
}

loss_stats mlp::loss_at(forward_precision p, std::span<const float> params, const batch_view& b,
                        workspace& ws) const {
  const float* logits = forward(params, b, ws, p);
  return softmax_cross_entropy(logits, b.y.data(), b.size, layers_.back().out);
}

loss_stats mlp::loss_and_grad(std::span<const float> params, const batch_view& b,
                              std::span<float> grad, workspace& ws) const {
  assert(static_cast<int64_t>(grad.size()) == param_count_);
  const float* logits = forward(params, b, ws, forward_precision::f32);
  const size_t nl = layers_.size();
  const int classes = layers_.back().out;
  // Gradient buffers live after the activations: dz of the current layer, da of the one below.
  float* dz = ws.get(nl + 1, static_cast<size_t>(b.size) * classes);
  const loss_stats st =
      softmax_cross_entropy(logits, b.y.data(), b.size, classes, dz, 1.f / b.size);
  const float* p = params.data();
  for (size_t li = nl; li-- > 0;) {
    const auto& l = layers_[li];
    const float* a_in = li == 0 ? b.x.data() : ws.buffers[li].data();
    // dW (out, in) = dz^T (out, B) . a_in (B, in)
    sgemm(true, false, l.out, l.in, b.size, 1.f, dz, l.out, a_in, l.in, 0.f,
          grad.data() + l.weight_offset, l.in);
    float* db = grad.data() + l.bias_offset;
    std::fill_n(db, l.out, 0.f);
    for (int r = 0; r < b.size; ++r)
      for (int o = 0; o < l.out; ++o) db[o] += dz[static_cast<size_t>(r) * l.out + o];
    if (li == 0) break;
    // da (B, in) = dz (B, out) . W (out, in); then through the ReLU of the layer below.
    float* da = ws.get(nl + 2 + (li % 2), static_cast<size_t>(b.size) * l.in);
    sgemm(false, false, b.size, l.in, l.out, 1.f, dz, l.out, p + l.weight_offset, l.in, 0.f, da,
          l.in);
    const float* z_below = ws.buffers[li].data();
    const size_t n = static_cast<size_t>(b.size) * l.in;
    for (size_t i = 0; i < n; ++i) da[i] = z_below[i] > 0.f ? da[i] : 0.f;
    dz = da;
  }
  return st;
}

std::string mlp::describe() const {
  std::ostringstream os;
  os << "mlp " << layers_.front().in;
  for (const auto& l : layers_) os << "-" << l.out;
  os << " (" << param_count_ << " parameters)";
  return os.str();
}

namespace {

result<std::unique_ptr<network>> make_mlp(const network_spec& spec) {
  if (spec.inputs <= 0 || spec.classes <= 1) {
    return error_message{"the data set gives " + std::to_string(spec.inputs) + " features and " +
                         std::to_string(spec.classes) + " classes; an mlp needs at least 1 and 2"};
  }
  for (int h : spec.hidden) {
    if (h <= 0) return error_message{"model.hidden widths must be >= 1, got " + std::to_string(h)};
  }
  return std::unique_ptr<network>(
      std::make_unique<mlp>(spec.inputs, spec.hidden, spec.classes, spec.precision));
}

result<std::unique_ptr<network>> make_lenet_from(const network_spec& spec) {
  if (spec.channels.size() != 2)
    return error_message{"model.channels must list two channel counts"};
  if (spec.inputs != spec.in_channels * spec.image_size * spec.image_size) {
    return error_message{"lenet needs " + std::to_string(spec.in_channels) + " x " +
                         std::to_string(spec.image_size) + "^2 inputs, the data gives " +
                         std::to_string(spec.inputs)};
  }
  return make_lenet(spec.in_channels, spec.image_size, spec.channels[0], spec.channels[1],
                    spec.classes, spec.act, spec.norm, spec.groups > 0 ? spec.groups : 2,
                    /*norm_affine=*/false, spec.precision);
}

}  // namespace

result<std::unique_ptr<network>> make_network(const network_spec& spec) {
  switch (spec.arch) {
    case arch_kind::mlp:
      return make_mlp(spec);
    case arch_kind::lenet:
      return make_lenet_from(spec);
    case arch_kind::wrn:
      return make_wrn(spec.in_channels, spec.image_size, spec.depth, spec.width, spec.classes,
                      spec.act, spec.groups, spec.precision);
  }
  return error_message{"unknown model.arch"};
}

}  // namespace baffle
