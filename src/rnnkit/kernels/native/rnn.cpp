// Simple-RNN inference scans (rnnkit.kernels.rnn's forward loops without saving: float32, and bfloat16 at
// small batch):
//   h'_{t-1} = MLP(m h_{t-1}),  h~ = act(xp_t + h'_{t-1} W_hh^T),  h_t = k h_{t-1} + (1 - k) h~
// with act tanh or relu and MLP the identity or a deep transition.
#include <torch/library.h>

#include <tuple>

#include "bf16.h"
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
  check_float32(xp, "xp");
  check_float32(h0, "h0");
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
        if (nonlinearity == kTanh) {
          step_units(hb, hpb, H, k.at(t, b), k.unit, [&](int64_t j) __attribute__((always_inline)) {
            return tanh_approx(ab[j]);
          });
        } else {
          step_units(hb, hpb, H, k.at(t, b), k.unit, [&](int64_t j) __attribute__((always_inline)) {
            return relu(ab[j]);
          });
        }
      }
    }
    hp = h;
  }
  return {ys, last_state(ys, h0)};
}

// h_t of one row in bfloat16: h~ = act(xp_t + the product), the keep mask on the state in float32.
template <int64_t Act>
inline void rnn_bf16_row(const uint16_t* __restrict x, const float* __restrict a, const float* hp, float* h,
                         uint16_t* h16, const float* kb, int64_t unit, int64_t n) {
  step_units(h, hp, n, kb, unit, [&](int64_t j) __attribute__((always_inline)) {
    const float v = bf16_to_float(x[j]) + a[j];
    return Act == kTanh ? tanh_approx(v) : relu(v);
  });
  round_to_bf16(h16, h, n);
}

// bfloat16 (rnnkit.kernels.rnn's bfloat16 inference loop): xp, h0 and the outputs in bfloat16, the weights
// packed (bf16.h), keep, the mask and the transition's biases in float32. The products take bfloat16
// inputs (h_{t-1} rounded as the output is, and the transition's u_k) and sum in float32; the
// nonlinearities and the state run in float32, h_t rounded once a step into the output. Unlike the
// Python loop, the products' results are not rounded to bfloat16 first.
std::tuple<at::Tensor, at::Tensor> rnn_forward_bf16(const at::Tensor& xp, const at::Tensor& h0,
                                                    const at::Tensor& weight_packed, int64_t nonlinearity,
                                                    const std::optional<at::Tensor>& keep,
                                                    const std::optional<at::Tensor>& recurrent_mask,
                                                    std::vector<at::Tensor> transition_weights_packed,
                                                    std::vector<at::Tensor> transition_biases,
                                                    int64_t transition_activation, bool transition_skip) {
  check_bf16(xp, "xp");
  check_bf16(h0, "h0");
  TORCH_CHECK(nonlinearity == kTanh || nonlinearity == kRelu, "rnnkit native scan: nonlinearity must be tanh or relu");
  const int64_t T = xp.size(0), B = xp.size(1), H = xp.size(2);
  const PackedBF16 w(weight_packed, H, H, "weight_packed");
  const float* m = data_or_null(recurrent_mask, "recurrent_mask");
  const Keep k(keep, "keep");
  TransitionBF16 mlp(transition_weights_packed, transition_biases, transition_activation, transition_skip, B, H);
  const int64_t la = w.n_pad(), lx = w.k_pad();

  auto ys = at::empty({T, B, H}, xp.options());
  std::vector<float> a(B * la);           // the product of each row, la apart
  std::vector<uint16_t> x_in(B * lx, 0);  // the product's input, lx apart (padding 0)
  std::vector<float> states(2 * B * H);   // h_{t-1} and h_t in float32, taking turns (read with a keep mask)
  const uint16_t* x = bf16_data(xp);
  uint16_t* ys_data = bf16_data(ys);
  const uint16_t* h0_data = bf16_data(h0);
  for (int64_t j = 0; j < B * H; ++j) states[j] = bf16_to_float(h0_data[j]);

  const uint16_t* hp16 = h0_data;  // h_{t-1} in bfloat16
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) product_input(x_in.data() + b * lx, hp16 + b * H, m ? m + b * H : nullptr, H);
    const uint16_t* h_in = mlp.empty() ? x_in.data() : mlp.step(x_in.data());  // h'_{t-1}, lx apart
    bf16_matmul(a.data(), la, h_in, lx, B, w);
    const float* hp = states.data() + (t % 2) * B * H;
    float* h = states.data() + ((t + 1) % 2) * B * H;
    uint16_t* h16 = ys_data + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      const uint16_t* xb = x + (t * B + b) * H;
      const float* kb = k ? k.at(t, b) : nullptr;
      if (nonlinearity == kTanh) {
        rnn_bf16_row<kTanh>(xb, a.data() + b * la, hp + b * H, h + b * H, h16 + b * H, kb, k.unit, H);
      } else {
        rnn_bf16_row<kRelu>(xb, a.data() + b * la, hp + b * H, h + b * H, h16 + b * H, kb, k.unit, H);
      }
    }
    hp16 = h16;
  }
  return {ys, last_state(ys, h0)};
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit, m) {
  m.def(
      "rnn_forward(Tensor xp, Tensor h0, Tensor weight_hh_t, int nonlinearity, Tensor? keep, "
      "Tensor? recurrent_mask, Tensor[] transition_weights_t, Tensor[] transition_biases, "
      "int transition_activation, bool transition_skip) -> (Tensor, Tensor)",
      &rnnkit::rnn_forward);
  m.def(
      "rnn_forward_bf16(Tensor xp, Tensor h0, Tensor weight_packed, int nonlinearity, Tensor? keep, "
      "Tensor? recurrent_mask, Tensor[] transition_weights_packed, Tensor[] transition_biases, "
      "int transition_activation, bool transition_skip) -> (Tensor, Tensor)",
      &rnnkit::rnn_forward_bf16);
}
