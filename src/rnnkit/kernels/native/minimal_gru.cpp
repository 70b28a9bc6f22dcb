// Minimal-GRU inference scan (rnnkit.kernels.minimal_gru's forward loop without saving, float32):
//   [a_u, a_c] = xp_t + (m h_{t-1}) W_hh^T,  gamma_u = sigmoid(a_u),  c~ = tanh(a_c)
//   h~ = gamma_u c~ + (1 - gamma_u) h_{t-1},  h_t = k h_{t-1} + (1 - k) h~
#include <torch/library.h>

#include <tuple>

#include "scan.h"

namespace rnnkit {
namespace {

std::tuple<at::Tensor, at::Tensor> minimal_gru_forward(const at::Tensor& xp, const at::Tensor& h0,
                                                       const at::Tensor& weight_hh_t,
                                                       const std::optional<at::Tensor>& keep,
                                                       const std::optional<at::Tensor>& recurrent_mask) {
  for (const auto& [t, name] : {std::pair{&xp, "xp"}, {&h0, "h0"}}) {
    check_float32(*t, name);
  }
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
      const float* kb = k ? k.at(t, b) : nullptr;
      for (int64_t j = 0; j < H; ++j) {
        const float gamma_u = sigmoid_approx(au[j]);
        const float c_tilde = tanh_approx(ac[j]);
        const float h_tilde = hpb[j] + gamma_u * (c_tilde - hpb[j]);
        const float keep_j = kb != nullptr ? kb[j * k.unit] : 0.0f;
        hb[j] = h_tilde + keep_j * (hpb[j] - h_tilde);
      }
    }
    hp = h;
  }
  at::Tensor h_last = T > 0 ? ys.select(0, T - 1).clone() : h0.clone();
  return {ys, h_last};
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit, m) {
  m.def(
      "minimal_gru_forward(Tensor xp, Tensor h0, Tensor weight_hh_t, Tensor? keep, Tensor? recurrent_mask) "
      "-> (Tensor, Tensor)",
      &rnnkit::minimal_gru_forward);
}
