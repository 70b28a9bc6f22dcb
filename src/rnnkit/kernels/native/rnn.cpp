// Simple-RNN inference scan (rnnkit.kernels.rnn's forward loop without saving, float32):
//   h'_{t-1} = MLP(m h_{t-1}),  h~ = act(xp_t + h'_{t-1} W_hh^T),  h_t = k h_{t-1} + (1 - k) h~
// with act tanh or relu and MLP the identity or a deep transition.
#include <torch/library.h>

#include <tuple>

#include "scan.h"

namespace rnnkit {
namespace {

std::tuple<at::Tensor, at::Tensor> rnn_forward(const at::Tensor& xp, const at::Tensor& h0,
                                               const at::Tensor& weight_hh_t, int64_t nonlinearity,
                                               const std::optional<at::Tensor>& keep,
                                               const std::optional<at::Tensor>& recurrent_mask,
                                               std::vector<at::Tensor> transition_weights_t,
                                               std::vector<at::Tensor> transition_biases,
                                               int64_t transition_activation, bool transition_skip) {
  for (const auto& [t, name] : {std::pair{&xp, "xp"}, {&h0, "h0"}}) {
    check_float32(*t, name);
  }
  check_float32(weight_hh_t, "weight_hh_t");
  TORCH_CHECK(nonlinearity == kTanh || nonlinearity == kRelu, "rnnkit native scan: nonlinearity must be tanh or relu");
  const int64_t T = xp.size(0), B = xp.size(1), H = xp.size(2);
  const float* m = data_or_null(recurrent_mask, "recurrent_mask");
  const Keep k(keep, "keep");
  TransitionMLP mlp(transition_weights_t, transition_biases, transition_activation, transition_skip, B);

  auto ys = at::empty({T, B, H}, xp.options());
  auto a = at::empty({B, H}, xp.options());
  auto h_in_scratch = at::empty({B, H}, xp.options());
  float* pa = a.data_ptr<float>();
  const float* x = xp.data_ptr<float>();
  const float* w = weight_hh_t.data_ptr<float>();
  float* ys_data = ys.data_ptr<float>();

  const float* hp = h0.data_ptr<float>();  // h_{t-1}
  for (int64_t t = 0; t < T; ++t) {
    const float* h_in = masked(hp, m, h_in_scratch.data_ptr<float>(), B * H);
    if (!mlp.empty()) h_in = mlp.step(h_in);
    float* h = ys_data + t * B * H;
    // a_t = xp_t + h'_{t-1} W_hh^T: in the output row without a keep mask (h_t = act(a_t) in place)
    float* at = k ? pa : h;
    std::memcpy(at, x + t * B * H, B * H * sizeof(float));
    matmul(at, h_in, w, B, H, H, true);
    if (!k) {
      activate(h, B * H, nonlinearity);
    } else {
      for (int64_t b = 0; b < B; ++b) {
        const float* __restrict ab = pa + b * H;
        const float* __restrict hpb = hp + b * H;
        float* __restrict hb = h + b * H;
        const float* kb = k.at(t, b);
        if (nonlinearity == kTanh) {
          for (int64_t j = 0; j < H; ++j) {
            const float h_tilde = tanh_approx(ab[j]);
            hb[j] = h_tilde + kb[j * k.unit] * (hpb[j] - h_tilde);
          }
        } else {
          for (int64_t j = 0; j < H; ++j) {
            const float h_tilde = relu(ab[j]);
            hb[j] = h_tilde + kb[j * k.unit] * (hpb[j] - h_tilde);
          }
        }
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
      "rnn_forward(Tensor xp, Tensor h0, Tensor weight_hh_t, int nonlinearity, Tensor? keep, "
      "Tensor? recurrent_mask, Tensor[] transition_weights_t, Tensor[] transition_biases, "
      "int transition_activation, bool transition_skip) -> (Tensor, Tensor)",
      &rnnkit::rnn_forward);
}
