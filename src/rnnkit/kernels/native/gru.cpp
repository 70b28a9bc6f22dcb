// GRU inference scan (rnnkit.kernels.gru's forward loop without saving, float32), torch.nn.GRU's
// equations with each step's elementwise work one pass over the units:
//   [h_r, h_z, h_n] = (m h_{t-1}) W_hh^T
//   r = sigmoid(x_r + h_r),  z = sigmoid(x_z + h_z),  n = tanh(x_n + r (h_n + b_hn))
//   h~ = (1 - z) n + z h_{t-1},  h_t = k h_{t-1} + (1 - k) h~
#include <torch/library.h>

#include <tuple>

#include "scan.h"

namespace rnnkit {
namespace {

std::tuple<at::Tensor, at::Tensor> gru_forward(const at::Tensor& xp, const at::Tensor& h0,
                                               const at::Tensor& weight_hh_t,
                                               const std::optional<at::Tensor>& bias_hn,
                                               const std::optional<at::Tensor>& keep,
                                               const std::optional<at::Tensor>& recurrent_mask) {
  for (const auto& [t, name] : {std::pair{&xp, "xp"}, {&h0, "h0"}}) {
    check_float32(*t, name);
  }
  check_float32(weight_hh_t, "weight_hh_t");
  const int64_t T = xp.size(0), B = xp.size(1), H3 = xp.size(2), H = H3 / 3;
  const float* b_hn = data_or_null(bias_hn, "bias_hn");
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
      const float* kb = k ? k.at(t, b) : nullptr;
      for (int64_t j = 0; j < H; ++j) {
        const float r = sigmoid_approx(xr[j] + gr[j]);
        const float z = sigmoid_approx(xz[j] + gz[j]);
        const float n = tanh_approx(xn[j] + r * (gn[j] + (b_hn != nullptr ? b_hn[j] : 0.0f)));
        const float h_tilde = n + z * (hpb[j] - n);
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
      "gru_forward(Tensor xp, Tensor h0, Tensor weight_hh_t, Tensor? bias_hn, Tensor? keep, "
      "Tensor? recurrent_mask) -> (Tensor, Tensor)",
      &rnnkit::gru_forward);
}
