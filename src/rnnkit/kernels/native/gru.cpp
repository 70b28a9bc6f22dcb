// GRU inference scans (rnnkit.kernels.gru's forward loops without saving: float32, and bfloat16 at
// small batch), torch.nn.GRU's equations with each step's elementwise work one pass over the units:
//   [h_r, h_z, h_n] = (m h_{t-1}) W_hh^T
//   r = sigmoid(x_r + h_r),  z = sigmoid(x_z + h_z),  n = tanh(x_n + r (h_n + b_hn))
//   h~ = (1 - z) n + z h_{t-1},  h_t = k h_{t-1} + (1 - k) h~
#include <torch/library.h>

#include <tuple>

#include "bf16.h"
#include "scan.h"

namespace rnnkit {
namespace {

// One unit of a step: h~ from its x_r, x_z, x_n, h_r, h_z, h_n + b_hn and h_{t-1}.
inline float gru_candidate(float xr, float xz, float xn, float gr, float gz, float gn, float hp) {
  const float r = sigmoid_approx(xr + gr);
  const float z = sigmoid_approx(xz + gz);
  const float n = tanh_approx(xn + r * gn);
  return n + z * (hp - n);
}

std::tuple<at::Tensor, at::Tensor> gru_forward(const at::Tensor& xp, const at::Tensor& h0,
                                               const at::Tensor& weight_hh_t,
                                               const std::optional<at::Tensor>& bias_hn,
                                               const std::optional<at::Tensor>& keep,
                                               const std::optional<at::Tensor>& recurrent_mask) {
  check_float32(xp, "xp");
  check_float32(h0, "h0");
  check_float32(weight_hh_t, "weight_hh_t");
  const int64_t T = xp.size(0), B = xp.size(1), H3 = xp.size(2), H = H3 / 3;
  // no b_hn reads as zeros: a load under a condition would keep the loop from vectorizing
  auto zeros = at::zeros({H}, xp.options());
  const float* b_hn = bias_hn.has_value() ? data_or_null(bias_hn, "bias_hn") : zeros.data_ptr<float>();
  const float* m = data_or_null(recurrent_mask, "recurrent_mask");
  const Keep k(keep, "keep");

  auto ys = at::empty({T, B, H}, xp.options());
  auto hh = at::empty({B, H3}, xp.options());  // [h_r, h_z, h_n]
  auto h_in_scratch = at::empty({B, H}, xp.options());
  const float* x = xp.data_ptr<float>();
  const float* w = weight_hh_t.data_ptr<float>();
  float* g = hh.data_ptr<float>();
  float* ys_data = ys.data_ptr<float>();

  const float* hp = h0.data_ptr<float>();  // h_{t-1}
  for (int64_t t = 0; t < T; ++t) {
    matmul(g, masked(hp, m, h_in_scratch.data_ptr<float>(), B * H), w, B, H, H3, false);
    float* h = ys_data + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      const float* __restrict xr = x + (t * B + b) * H3;
      const float* __restrict xz = xr + H;
      const float* __restrict xn = xz + H;
      const float* __restrict gr = g + b * H3;
      const float* __restrict gz = gr + H;
      const float* __restrict gn = gz + H;
      const float* __restrict hpb = hp + b * H;
      float* __restrict hb = h + b * H;
      step_units(hb, hpb, H, k ? k.at(t, b) : nullptr, k.unit, [&](int64_t j) __attribute__((always_inline)) {
        return gru_candidate(xr[j], xz[j], xn[j], gr[j], gz[j], gn[j] + b_hn[j], hpb[j]);
      });
    }
    hp = h;
  }
  return {ys, last_state(ys, h0)};
}

// bfloat16 (rnnkit.kernels.gru's bfloat16 inference loop): xp, h0 and the outputs in bfloat16, the weight
// packed (bf16.h), bias_hn, keep and the mask in float32. The product takes h_{t-1} rounded to bfloat16
// (the output's rounding) and sums in float32; the gates and the state run in float32, h_t rounded once
// a step into the output. Unlike the Python loop, the product's result is not rounded to bfloat16 first.
std::tuple<at::Tensor, at::Tensor> gru_forward_bf16(const at::Tensor& xp, const at::Tensor& h0,
                                                    const at::Tensor& weight_packed,
                                                    const std::optional<at::Tensor>& bias_hn,
                                                    const std::optional<at::Tensor>& keep,
                                                    const std::optional<at::Tensor>& recurrent_mask) {
  check_bf16(xp, "xp");
  check_bf16(h0, "h0");
  const int64_t T = xp.size(0), B = xp.size(1), H3 = xp.size(2), H = H3 / 3;
  const PackedBF16 w(weight_packed, H3, H, "weight_packed");
  const float* b_hn = data_or_null(bias_hn, "bias_hn");
  const float* m = data_or_null(recurrent_mask, "recurrent_mask");
  const Keep k(keep, "keep");
  const int64_t lg = w.n_pad(), lx = w.k_pad();

  auto ys = at::empty({T, B, H}, xp.options());
  std::vector<float> g(B * lg);                  // [h_r, h_z, h_n] of each row, lg apart
  std::vector<uint16_t> x_in(B * lx, 0);         // the product's input, lx apart (padding 0)
  std::vector<float> states(2 * B * H);          // h_{t-1} and h_t in float32, taking turns
  const uint16_t* x = bf16_data(xp);
  uint16_t* ys_data = bf16_data(ys);
  const uint16_t* h0_data = bf16_data(h0);
  for (int64_t j = 0; j < B * H; ++j) states[j] = bf16_to_float(h0_data[j]);

  const uint16_t* hp16 = h0_data;  // h_{t-1} in bfloat16
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) product_input(x_in.data() + b * lx, hp16 + b * H, m ? m + b * H : nullptr, H);
    bf16_matmul(g.data(), lg, x_in.data(), lx, B, w);
    const float* hp = states.data() + (t % 2) * B * H;
    float* h = states.data() + ((t + 1) % 2) * B * H;
    uint16_t* h16 = ys_data + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      const uint16_t* __restrict xr = x + (t * B + b) * H3;
      const uint16_t* __restrict xz = xr + H;
      const uint16_t* __restrict xn = xz + H;
      const float* __restrict gr = g.data() + b * lg;
      const float* __restrict gz = gr + H;
      const float* __restrict gn = gz + H;
      const float* __restrict hpb = hp + b * H;
      float* __restrict hb = h + b * H;
      step_units(hb, hpb, H, k ? k.at(t, b) : nullptr, k.unit, [&](int64_t j) __attribute__((always_inline)) {
        return gru_candidate(bf16_to_float(xr[j]), bf16_to_float(xz[j]), bf16_to_float(xn[j]), gr[j], gz[j],
                             gn[j] + (b_hn != nullptr ? b_hn[j] : 0.0f), hpb[j]);
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
      "gru_forward(Tensor xp, Tensor h0, Tensor weight_hh_t, Tensor? bias_hn, Tensor? keep, "
      "Tensor? recurrent_mask) -> (Tensor, Tensor)",
      &rnnkit::gru_forward);
  m.def(
      "gru_forward_bf16(Tensor xp, Tensor h0, Tensor weight_packed, Tensor? bias_hn, Tensor? keep, "
      "Tensor? recurrent_mask) -> (Tensor, Tensor)",
      &rnnkit::gru_forward_bf16);
}
