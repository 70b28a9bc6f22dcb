// Shared pieces of rnnkit's native inference scans (float32, CPU): the gate nonlinearities written so
// that the compiler vectorizes them, the masks, the products and the deep-transition MLP.
//
// Why BLAS's sgemm directly: a product of one row against a (256, 256) weight takes about 2 us of
// arithmetic, and at::addmm_out adds about 2 us of checks and dispatch (measured, simple RNN at batch 1,
// H 256, 100 steps: 0.43 ms through addmm_out, 0.24 ms through sgemm). The BLAS torch is linked with
// (MKL on x86) exports sgemm_; where it is absent the products go through ATen.
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

// Fortran BLAS, as exported by the BLAS torch links (weak: null if there is none).
extern "C" void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                       const float* beta, float* c, const int* ldc) __attribute__((weak));

namespace rnnkit {

// out (rows, n) = x (rows, k) @ w (k, n), or out += that with accumulate; all row-major and contiguous.
inline void matmul(float* out, const float* x, const float* w, int64_t rows, int64_t k, int64_t n, bool accumulate) {
  if (sgemm_ != nullptr) {
    // row-major out = x w is column-major out^T = w^T x^T: BLAS sees w as (n, k) and x as (k, rows)
    const int m_ = static_cast<int>(n), n_ = static_cast<int>(rows), k_ = static_cast<int>(k);
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    sgemm_("N", "N", &m_, &n_, &k_, &one, w, &m_, x, &k_, &beta, out, &m_);
    return;
  }
  auto options = at::TensorOptions().dtype(at::kFloat);
  auto o = at::from_blob(out, {rows, n}, options);
  auto xt = at::from_blob(const_cast<float*>(x), {rows, k}, options);
  auto wt = at::from_blob(const_cast<float*>(w), {k, n}, options);
  if (accumulate) {
    o.addmm_(xt, wt);
  } else {
    at::mm_out(o, xt, wt);
  }
}

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

inline float relu(float x) { return x < 0.0f ? 0.0f : x; }  // NaN stays NaN, as torch.relu

// h[j] = k_j h_{t-1}[j] + (1 - k_j) h~_j over n units, h~_j = candidate(j), k_j = kb[j] (unit 1), kb[0] (unit
// 0), or h~ itself without a keep mask: each case a loop of its own, which the compiler vectorizes (one loop
// choosing between them per unit it did not: 8.2 us a step for the GRU at batch 1, H 256, against 4.6).
template <typename Candidate>
inline void step_units(float* __restrict h, const float* __restrict hp, int64_t n, const float* kb, int64_t unit,
                       Candidate candidate) {
  if (kb == nullptr) {
    for (int64_t j = 0; j < n; ++j) h[j] = candidate(j);
  } else if (unit == 0) {
    const float keep = kb[0];
    for (int64_t j = 0; j < n; ++j) {
      const float h_tilde = candidate(j);
      h[j] = h_tilde + keep * (hp[j] - h_tilde);
    }
  } else {
    for (int64_t j = 0; j < n; ++j) {
      const float h_tilde = candidate(j);
      h[j] = h_tilde + kb[j] * (hp[j] - h_tilde);
    }
  }
}

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
// A tensor whose data a loop reads directly: of this dtype, contiguous, on the CPU.
inline void check_cpu_tensor(const at::Tensor& t, const char* name, at::ScalarType dtype, const char* dtype_name) {
  TORCH_CHECK(t.scalar_type() == dtype, "rnnkit native scan: ", name, " must be ", dtype_name, ", got ",
              t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), "rnnkit native scan: ", name, " must be contiguous");
  TORCH_CHECK(t.device().is_cpu(), "rnnkit native scan: ", name, " must be on the CPU");
}

inline void check_float32(const at::Tensor& t, const char* name) { check_cpu_tensor(t, name, at::kFloat, "float32"); }

// h_T: the last row of the outputs ys (T, B, H), or h0 for an empty sequence; a tensor of its own.
inline at::Tensor last_state(const at::Tensor& ys, const at::Tensor& h0) {
  return ys.size(0) > 0 ? ys.select(0, ys.size(0) - 1).clone() : h0.clone();
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

// m * h over n units (the recurrent mask) into scratch, or h itself without a mask.
inline const float* masked(const float* h, const float* m, float* scratch, int64_t n) {
  if (m == nullptr) return h;
  for (int64_t j = 0; j < n; ++j) scratch[j] = m[j] * h[j];
  return scratch;
}

// The deep-transition MLP (rnnkit.kernels.transition): u_k = phi(u_{k-1} W_k^T + b_k), h' = u_L (+ u_0).
struct TransitionMLP {
  std::vector<at::Tensor> weights_t;  // (R, R) each, transposed: W_k^T
  std::vector<at::Tensor> biases;     // (R,) each, or empty for none
  int64_t activation = kTanh;
  bool skip = false;
  int64_t batch = 0, size = 0;
  std::vector<at::Tensor> us;  // (B, R) scratch per layer
  at::Tensor h_prime;          // (B, R) scratch for skip

  TransitionMLP(const std::vector<at::Tensor>& w_t, const std::vector<at::Tensor>& b, int64_t act, bool skip_,
                int64_t batch_)
      : weights_t(w_t), biases(b), activation(act), skip(skip_), batch(batch_) {
    TORCH_CHECK(weights_t.size() == biases.size(), "rnnkit native scan: one transition bias (or empty) per weight");
    for (size_t k = 0; k < weights_t.size(); ++k) {
      check_float32(weights_t[k], "transition weight");
      if (biases[k].numel() > 0) check_float32(biases[k], "transition bias");
      size = weights_t[k].size(1);
      us.push_back(at::empty({batch, size}, weights_t[k].options()));
    }
    if (skip && !us.empty()) h_prime = at::empty_like(us.back());
  }
  bool empty() const { return weights_t.empty(); }

  // h'_{t-1} from u_0 = m h_{t-1}, (B, R)
  const float* step(const float* u0) {
    const float* u = u0;
    for (size_t k = 0; k < weights_t.size(); ++k) {
      float* z = us[k].data_ptr<float>();
      matmul(z, u, weights_t[k].data_ptr<float>(), batch, size, size, false);
      if (biases[k].numel() > 0) {
        const float* bias = biases[k].data_ptr<float>();
        for (int64_t b = 0; b < batch; ++b) {
          for (int64_t j = 0; j < size; ++j) z[b * size + j] += bias[j];
        }
      }
      activate(z, batch * size, activation);
      u = z;
    }
    if (!skip) return u;
    float* hp = h_prime.data_ptr<float>();
    for (int64_t j = 0; j < batch * size; ++j) hp[j] = u0[j] + u[j];
    return hp;
  }
};

}  // namespace rnnkit
