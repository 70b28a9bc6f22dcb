// Shared pieces of rnnkit's native inference scans (float32, CPU): the gate nonlinearities written so
// that the compiler vectorizes them, the masks, the products and the deep-transition MLP.
//
// Why hand-written nonlinearities: a step at batch 1 is a few hundred units, and calling ATen's vectorized
// sigmoid/tanh on them costs more in dispatch than in arithmetic; the C library's scalar expf/tanhf do
// not vectorize. exp is computed as 2^n * e^r (n = round(x / ln 2), |r| <= ln 2 / 2, e^r by its Taylor
// series to r^7: relative error about 1e-7, the size of float32's rounding).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace rnnkit {

inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);  // e^x stays a normal float
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2): 1.5 * 2^23 trick
  float r = x - n * 0.693145751953125f;  // ln 2 in two parts, so that r is exact
  r = r - n * 1.428606765330187045e-06f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// tanh x = 1 - 2 / (e^{2x} + 1): absolute error about 1e-7 near 0, relative about 1e-7 elsewhere.
inline float tanh_approx(float x) { return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f); }

inline float relu(float x) { return x > 0.0f ? x : 0.0f; }

// Activation codes, as rnnkit.kernels.native passes them.
enum Activation : int64_t { kTanh = 0, kRelu = 1, kSigmoid = 2 };

// u = phi(u) over n units.
inline void activate(float* __restrict u, int64_t n, int64_t activation) {
  if (activation == kTanh) {
    for (int64_t j = 0; j < n; ++j) u[j] = tanh_approx(u[j]);
  } else if (activation == kRelu) {
    for (int64_t j = 0; j < n; ++j) u[j] = relu(u[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) u[j] = sigmoid_approx(u[j]);
  }
}

// Checks of the arguments (the Python side checks shapes; these catch a caller that skips it).
// Tensors whose data the loops read directly must be contiguous; the products' weights may be views.
inline void check_float32(const at::Tensor& t, const char* name, bool contiguous = true) {
  TORCH_CHECK(t.scalar_type() == at::kFloat, "rnnkit native scan: ", name, " must be float32, got ", t.scalar_type());
  TORCH_CHECK(!contiguous || t.is_contiguous(), "rnnkit native scan: ", name, " must be contiguous");
  TORCH_CHECK(t.device().is_cpu(), "rnnkit native scan: ", name, " must be on the CPU");
}

inline const float* data_or_null(const std::optional<at::Tensor>& t, const char* name) {
  if (!t.has_value()) return nullptr;
  check_float32(*t, name);
  return t->data_ptr<float>();
}

// A keep mask (T, B, H) or (T, B, 1): where 1 the state is carried over unchanged.
struct Keep {
  const float* data = nullptr;
  int64_t step = 0, row = 0, unit = 0;  // strides, in elements

  Keep(const std::optional<at::Tensor>& t, const char* name) {
    data = data_or_null(t, name);
    if (data == nullptr) return;
    step = t->size(1) * t->size(2);
    row = t->size(2);
    unit = t->size(2) == 1 ? 0 : 1;
  }
  explicit operator bool() const { return data != nullptr; }
  const float* at(int64_t t, int64_t b) const { return data + t * step + b * row; }
};

// x = m * h (the recurrent mask), into scratch, or h itself without a mask.
inline at::Tensor masked(const at::Tensor& h, const std::optional<at::Tensor>& m, at::Tensor& scratch) {
  if (!m.has_value()) return h;
  at::mul_out(scratch, h, *m);
  return scratch;
}

// The deep-transition MLP (rnnkit.kernels.transition): u_k = phi(u_{k-1} W_k^T + b_k), h' = u_L (+ u_0).
struct TransitionMLP {
  std::vector<at::Tensor> weights_t;  // (R, R) each, transposed: W_k^T
  std::vector<at::Tensor> biases;     // (R,) each, or empty for none
  int64_t activation = kTanh;
  bool skip = false;
  std::vector<at::Tensor> us;  // (B, R) scratch per layer
  at::Tensor h_prime;          // (B, R) scratch for skip

  TransitionMLP(const std::vector<at::Tensor>& w_t, const std::vector<at::Tensor>& b, int64_t act, bool skip_,
                int64_t batch)
      : weights_t(w_t), biases(b), activation(act), skip(skip_) {
    TORCH_CHECK(weights_t.size() == biases.size(), "rnnkit native scan: one transition bias (or empty) per weight");
    for (size_t k = 0; k < weights_t.size(); ++k) {
      check_float32(weights_t[k], "transition weight", false);
      if (biases[k].numel() > 0) check_float32(biases[k], "transition bias");
      us.push_back(at::empty({batch, weights_t[k].size(1)}, weights_t[k].options()));
    }
    if (skip && !us.empty()) h_prime = at::empty_like(us.back());
  }
  bool empty() const { return weights_t.empty(); }

  // h'_{t-1} from u_0 = m h_{t-1}
  at::Tensor step(const at::Tensor& u0) {
    at::Tensor u = u0;
    for (size_t k = 0; k < weights_t.size(); ++k) {
      if (biases[k].numel() > 0) {
        at::addmm_out(us[k], biases[k], u, weights_t[k]);
      } else {
        at::mm_out(us[k], u, weights_t[k]);
      }
      activate(us[k].data_ptr<float>(), us[k].numel(), activation);
      u = us[k];
    }
    if (!skip) return u;
    at::add_out(h_prime, u0, u);
    return h_prime;
  }
};

}  // namespace rnnkit
