// Minimal-GRU inference scans (rnnkit.kernels.minimal_gru's forward loops without saving: float32, and
// bfloat16 at small batch):
//   [a_u, a_c] = xp_t + (m h_{t-1}) W_hh^T,  gamma_u = sigmoid(a_u),  c~ = tanh(a_c)
//   h~ = gamma_u c~ + (1 - gamma_u) h_{t-1},  h_t = k h_{t-1} + (1 - k) h~
#include <torch/library.h>

#include <tuple>

#include "bf16.h"
#include "scan.h"

namespace rnnkit {
namespace {

// One unit of a step: h~ from its a_u, a_c and h_{t-1}.
inline float minimal_gru_candidate(float au, float ac, float hp) {
  const float gamma_u = sigmoid_approx(au);
  const float c_tilde = tanh_approx(ac);
  return hp + gamma_u * (c_tilde - hp);
}

std::tuple<at::Tensor, at::Tensor> minimal_gru_forward(const at::Tensor& xp, const at::Tensor& h0,
                                                       const at::Tensor& weight_hh_t,
                                                       const std::optional<at::Tensor>& keep,
                                                       const std::optional<at::Tensor>& recurrent_mask) {
  check_float32(xp, "xp");
  check_float32(h0, "h0");
  check_float32(weight_hh_t, "weight_hh_t");
  const int64_t T = xp.size(0), B = xp.size(1), H2 = xp.size(2), H = H2 / 2;
  const float* m = data_or_null(recurrent_mask, "recurrent_mask");
  const Keep k(keep, "keep");

  auto ys = at::empty({T, B, H}, xp.options());
  auto a = at::empty({B, H2}, xp.options());  // [a_u, a_c]
  auto h_in_scratch = at::empty({B, H}, xp.options());
  float* pa = a.data_ptr<float>();
  const float* x = xp.data_ptr<float>();
  const float* w = weight_hh_t.data_ptr<float>();
  float* ys_data = ys.data_ptr<float>();

  const float* hp = h0.data_ptr<float>();  // h_{t-1}
  for (int64_t t = 0; t < T; ++t) {
    std::memcpy(pa, x + t * B * H2, B * H2 * sizeof(float));
    matmul(pa, masked(hp, m, h_in_scratch.data_ptr<float>(), B * H), w, B, H, H2, true);
    float* h = ys_data + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      const float* __restrict au = pa + b * H2;
      const float* __restrict ac = au + H;
      const float* __restrict hpb = hp + b * H;
      float* __restrict hb = h + b * H;
      step_units(hb, hpb, H, k ? k.at(t, b) : nullptr, k.unit, [&](int64_t j) __attribute__((always_inline)) {
        return minimal_gru_candidate(au[j], ac[j], hpb[j]);
      });
    }
    hp = h;
  }
  return {ys, last_state(ys, h0)};
}

// bfloat16 (rnnkit.kernels.minimal_gru's bfloat16 inference loop): xp, h0 and the outputs in bfloat16, the
// weight packed (bf16.h), keep and the mask in float32. The product takes h_{t-1} rounded to bfloat16 (the
// output's rounding) and sums in float32; the gates and the state run in float32, h_t rounded once a step
// into the output. Unlike the Python loop, the product's result is not rounded to bfloat16 first.
std::tuple<at::Tensor, at::Tensor> minimal_gru_forward_bf16(const at::Tensor& xp, const at::Tensor& h0,
                                                            const at::Tensor& weight_packed,
                                                            const std::optional<at::Tensor>& keep,
                                                            const std::optional<at::Tensor>& recurrent_mask) {
  check_bf16(xp, "xp");
  check_bf16(h0, "h0");
  const int64_t T = xp.size(0), B = xp.size(1), H2 = xp.size(2), H = H2 / 2;
  const PackedBF16 w(weight_packed, H2, H, "weight_packed");
  const float* m = data_or_null(recurrent_mask, "recurrent_mask");
  const Keep k(keep, "keep");
  const int64_t la = w.n_pad(), lx = w.k_pad();

  auto ys = at::empty({T, B, H}, xp.options());
  std::vector<float> a(B * la);           // [a_u, a_c] of each row (the product part), la apart
  std::vector<uint16_t> x_in(B * lx, 0);  // the product's input, lx apart (padding 0)
  std::vector<float> states(2 * B * H);   // h_{t-1} and h_t in float32, taking turns
  const uint16_t* x = bf16_data(xp);
  uint16_t* ys_data = bf16_data(ys);
  const uint16_t* h0_data = bf16_data(h0);
  for (int64_t j = 0; j < B * H; ++j) states[j] = bf16_to_float(h0_data[j]);

  const uint16_t* hp16 = h0_data;  // h_{t-1} in bfloat16
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) product_input(x_in.data() + b * lx, hp16 + b * H, m ? m + b * H : nullptr, H);
    bf16_matmul(a.data(), la, x_in.data(), lx, B, w);
    const float* hp = states.data() + (t % 2) * B * H;
    float* h = states.data() + ((t + 1) % 2) * B * H;
    uint16_t* h16 = ys_data + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      const uint16_t* __restrict xu = x + (t * B + b) * H2;
      const uint16_t* __restrict xc = xu + H;
      const float* __restrict au = a.data() + b * la;
      const float* __restrict ac = au + H;
      const float* __restrict hpb = hp + b * H;
      float* __restrict hb = h + b * H;
      step_units(hb, hpb, H, k ? k.at(t, b) : nullptr, k.unit, [&](int64_t j) __attribute__((always_inline)) {
        return minimal_gru_candidate(bf16_to_float(xu[j]) + au[j], bf16_to_float(xc[j]) + ac[j], hpb[j]);
      });
      round_to_bf16(h16 + b * H, hb, H);
    }
    hp16 = h16;
  }
  return {ys, last_state(ys, h0)};
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit, m) {
  m.def(
      "minimal_gru_forward(Tensor xp, Tensor h0, Tensor weight_hh_t, Tensor? keep, Tensor? recurrent_mask) "
      "-> (Tensor, Tensor)",
      &rnnkit::minimal_gru_forward);
  m.def(
      "minimal_gru_forward_bf16(Tensor xp, Tensor h0, Tensor weight_packed, Tensor? keep, Tensor? recurrent_mask) "
      "-> (Tensor, Tensor)",
      &rnnkit::minimal_gru_forward_bf16);
}
