r"""Fused simple-RNN kernel (Elman, tanh or relu): the whole sequence forward, and backpropagation
through time written by hand.

Forward, for t = 1..T (``m`` is the recurrent mask, 1 if not given; ``k_t`` is the keep mask, 0 if
not given; ``act`` is tanh or relu)::

    h'_{t-1} = MLP(h_{t-1} * m)                  MLP: the identity, or a deep transition (below)
    a_t = xp_t + h'_{t-1} W_hh^T                 xp_t = x_t W_ih^T + b_ih + b_hh
    h~  = act(a_t)
    h_t = k_t * h_{t-1} + (1 - k_t) * h~          ys_t = h_t

With a ``transition`` (``DeepTransition`` around this cell: Pascanu et al.'s DT-RNN, and DT(S)-RNN with
skip), MLP is the transition's network (:mod:`rnnkit.kernels.transition`). The cell reads h_{t-1} only
through the recurrent product, so the MLP's output replaces it there alone; the keep mask mixes h_{t-1}
itself.

Backward, for t = T..1. ``dh_t`` is the gradient reaching h_t: dL/dys_t plus what step t+1 sent back
(and dL/dh_T at the last step)::

    dh~  = (1 - k_t) * dh_t
    da_t = dh~ * act'(a_t)           act' = 1 - h~^2 for tanh, [h~ > 0] for relu;   dxp_t = da_t
    dh_{t-1} = dL/dys_{t-1} + k_t * dh_t + m * J_t^T(da_t W_hh)

J_t^T is the transition's Jacobian transposed, the identity without one (its backward recurrence is in
:mod:`rnnkit.kernels.transition`). After the loop, dW_hh = sum_t da_t^T h'_{t-1} is one matmul over the
stacked steps: without a transition, over steps 2..T, whose h_{t-1} * m are ys * m, plus the B-row
product of step 1 with h_0 (ys is an output tensor of its own, so that a caller may modify it in place);
with one, over the h'_{t-1} its forward kept, and each of its layers' weights one matmul too. In float32
and float64 the recurrent matmuls go through ``torch.mm``/``torch.addmm`` (MKL), which on this kind of
CPU reaches the FMA peak for these shapes, ahead of oneDNN's inner product; ``addmm`` also folds the
additions of xp_t (forward) and dL/dys_{t-1} (backward) into the matmul.

Precision. float32 and float64 run as written. bfloat16 inference uses bfloat16 only where it pays: the
recurrent product (oneDNN with the weight packed once, accumulating in float32; its result, with xp_t
added inside oneDNN, is rounded to bfloat16 once). The nonlinearity and the keep mask run in float32
(bfloat16's tanh is 5x slower than float32's: 28 us against 5 us for batch 64, H 256), and with a keep
mask the state is carried in float32; h_t is rounded to bfloat16 once per step, as the next product's
input and as the output. Measured, ``RNN`` layer at batch 64, T 100, H 256, one thread: 0.63x the float32
time (0.85x with MKL's bfloat16 products and a bfloat16 tanh). bfloat16 training runs the loops as
written, in bfloat16 (MKL's bfloat16 products): a training step of the kernel at batch 64, H 256 takes
18.9 ms, against 24.1 ms in float32 and 30.9 ms for bfloat16 cast to float32 and back. A scan with a
small recurrent product (at most ``BFLOAT16_IN_FLOAT32_PRODUCTS`` multiply-adds a step) runs whole in
float32, the inputs cast up once and ys, h_T cast back to bfloat16 (by autograd for the gradients),
except in inference with a weight of at least :data:`rnnkit.kernels.linear.BFLOAT16_LARGE_WEIGHT`
elements, which takes the bfloat16 loop at any batch. A oneDNN call costs at least 14 us (one row,
16 x 16 weight), more than bfloat16 saves on a small product: at batch 1 (256 x 256 weight) 18.6 us a step against
3.6 us for MKL's float32 product. Where the CPU has AVX-512 BF16, bfloat16 inference of at most
``BFLOAT16_NATIVE_ROWS`` rows takes neither route but the native loop (:mod:`rnnkit.kernels.native`,
``bf16.h``): the product of h'_{t-1} in bfloat16 with the weight packed once and kept while it is
unchanged, by AVX-512 BF16 dot products summing in float32 (1.6 us a step at batch 1, H 256), xp_t added
in float32, the result not rounded; the nonlinearity and the keep mask in float32, h_t rounded to bfloat16
once a step. Measured at batch 1, T 100, H 256, one thread: the kernel alone 0.64x the float32 time (1.33x
run in float32); the ``RNN`` layer (I 128, ``benchmarks/rnn_speed.py``) 0.86-0.87x (1.28x run in float32).
The layer gains less because its input projection, bfloat16 through oneDNN, costs more than MKL's float32
one when the caches are cold, as in that benchmark (0.11 against 0.10 ms; 0.26 against 0.16 ms just after
a garbage collection, where the scans are 0.27 against 0.42 ms).

A transition's layers are (H, H) products like the recurrent one and follow its dtype, and its limits; in
the bfloat16 inference loop their activation runs in float32 too (:mod:`rnnkit.kernels.transition`).
Measured with one tanh layer, batch 64, T 100, H 256, one thread: inference 10.9 ms, against 13.4 ms with
the layer's tanh in bfloat16 and 13.0 ms in float32 (relu and sigmoid lose 0.2-0.3 ms to the casts); a
training step in the bfloat16 loop 35.4 ms, against 53.3 ms for bfloat16 run in float32 and 43.5 ms in
float32. The native bfloat16 loop multiplies them as the recurrent weight (packed, summed in float32),
their biases and activation in float32, u_k rounded to bfloat16 between layers.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnkit.kernels._common import (
    bfloat16_in_float32, check_dtypes, check_scan, float32_state, loop_threads, needs_grad, per_step, recurrent_grad,
    step_products, to_float32, weight_grad_t,
)
from rnnkit.kernels import native
from rnnkit.kernels.linear import prepacked_linear
from rnnkit.kernels.transition import (
    Transition, TransitionBackward, TransitionForward, check_transition, layer_weights,
)  # fmt: skip

_KERNEL = "rnn_scan"
# Up to this many multiply-adds a step (batch x H x H) bfloat16 runs in float32 (in inference only if the
# weight is small too: see the module docstring). Measured, the kernel alone, inference, one thread,
# bfloat16 run in float32 against the bfloat16 loop, as multiples of the float32 time: float32 faster at
# 1.0M (H 256 batch 16: 1.61x against 1.75x; H 512 batch 4: 1.08x against 1.57x), level at 2.1M (H 256 batch
# 32: 1.11-1.27x against 1.07-1.11x; H 512 batch 8: 1.11x both), bfloat16 faster at 3.1M (H 256 batch 48:
# 0.87x) and beyond (4.2M: H 256 batch 64 0.72-0.78x, H 512 batch 16 0.68x). A one-row scan of a weight of
# 590K elements (H 768) takes the bfloat16 loop: 0.78x against 1.15x. Training (a step, forward and
# backward), the bfloat16 loop against bfloat16 run in float32: 1.12x at 1.0M (H 256 batch 16; H 512 batch
# 4: 1.63x), 0.66x at 2.1M (H 256 batch 32; H 512 batch 8: 1.10x). The limit sits between the last point
# where float32 was faster (1.0M) and 2.1M, which takes the bfloat16 loop: level in inference, faster
# in training (H 256: batch 24 and below in float32, 32 in bfloat16).
BFLOAT16_IN_FLOAT32_PRODUCTS = 3 << 19
# Up to this batch bfloat16 inference runs the native loop (rnnkit.kernels.native, bf16.h), whose product
# (vdpbf16ps) beats MKL's float32 one while a step reads more weight than it computes. Measured, the kernel
# alone, T 100, H 256, one thread, as multiples of the float32 time, native against the route otherwise
# taken (run in float32 up to BFLOAT16_IN_FLOAT32_PRODUCTS): batch 1 0.64x against 1.33x, 2 0.83x / 1.18x,
# 4 1.38x / 1.42x, 6 1.42x / 1.40x, 8 1.51x / 1.30x. At H 512 batch 1 0.62x against 1.82x, batch 4 1.35x /
# 1.47x; at H 1024 batch 1 0.23x / 0.72x, batch 4 0.55x / 0.71x.
BFLOAT16_NATIVE_ROWS = 4
NONLINEARITIES = ("tanh", "relu")


def rnn_scan(
    xp: torch.Tensor,
    h0: torch.Tensor,
    weight_hh: torch.Tensor,
    *,
    nonlinearity: str = "tanh",
    keep: torch.Tensor | None = None,
    recurrent_mask: torch.Tensor | None = None,
    transition: Transition | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a simple RNN over a whole sequence.

    Args:
        xp: (T, B, H) input projections of all steps with both biases added.
        h0: (B, H) initial state.
        weight_hh: (H, H) recurrent weights, ``torch.nn.RNN`` layout.
        nonlinearity: "tanh" or "relu".
        keep: (T, B, H) or (T, B, 1) float mask; where 1 the state is carried over unchanged (zoneout,
            sequence lengths). Not differentiated.
        recurrent_mask: (B, H) float mask multiplying h_{t-1} where it enters the recurrent matmul
            (variational dropout); with a transition, where it enters the transition (u_0 = m h_{t-1}).
            Not differentiated.
        transition: a deep-transition MLP from ``m h_{t-1}`` to the recurrent matmul's input, its layers
            (H, H) (:mod:`rnnkit.kernels.transition`); differentiable in its weights and biases.

    All tensors share one dtype. Returns:
        ys (T, B, H), the state after every step, and h_T (B, H).
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"{_KERNEL}: nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    _, _, hidden = check_scan(_KERNEL, xp, h0, weight_hh, 1, recurrent_mask, keep=keep)
    if transition is not None:
        check_transition(_KERNEL, transition, hidden)
    layers = transition.tensors() if transition is not None else []  # W_1, b_1, W_2, ...
    named = {"xp": xp, "h0": h0, "weight_hh": weight_hh, "keep": keep, "recurrent_mask": recurrent_mask}
    check_dtypes(_KERNEL, named | {f"transition[{k}]": value for k, value in enumerate(layers)})
    training = needs_grad(xp, h0, weight_hh, *layers)
    few_bfloat16_rows = xp.dtype == torch.bfloat16 and xp.shape[1] <= BFLOAT16_NATIVE_ROWS
    if not training and few_bfloat16_rows and native.runs_bfloat16(xp):
        return _forward_native_bfloat16(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition)
    # A transition's layers are products of the recurrent one's size: the same limits hold for them.
    in_float32 = bfloat16_in_float32(xp, weight_hh, BFLOAT16_IN_FLOAT32_PRODUCTS, training=training)
    if in_float32:
        xp, h0, weight_hh, keep, recurrent_mask = to_float32(xp, h0, weight_hh, keep, recurrent_mask)
        layers = to_float32(*layers)
    if training:
        # the transition's tensors are arguments of their own, so that autograd routes their gradients
        form = transition.form if transition is not None else None
        ys, h_T = _RNNScan.apply(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, form, *layers)
    else:
        if transition is not None:
            transition = transition.with_tensors(layers)
        if native.runs(xp):
            ys, h_T = _forward_native(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition)
        else:
            ys, h_T, _ = _forward(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition, save=False)
    return (ys.bfloat16(), h_T.bfloat16()) if in_float32 else (ys, h_T)


def _forward_native(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition):
    """The forward loop in C++ (:mod:`rnnkit.kernels.native`), float32 inference."""
    weights_t, biases, activation, skip = native.transition_arguments(transition)
    with loop_threads(step_products(xp.shape[1], weight_hh, layer_weights(transition))) as wide, wide:
        return native.ops().rnn_forward(
            *native.contiguous(xp, h0), native.transposed(weight_hh), native.ACTIVATIONS[nonlinearity],
            *native.contiguous(keep, recurrent_mask), weights_t, biases, activation, skip,
        )  # fmt: skip


def _forward_native_bfloat16(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition):
    """The bfloat16 inference loop in C++ at small batch (:mod:`rnnkit.kernels.native`, see Precision); a
    transition's layers are products in bfloat16 too, their biases and activation in float32."""
    weights, biases, activation, skip = [], [], 0, False
    if transition is not None:
        weights = [native.packed_bf16(w) for w in transition.weights]
        empty = xp.new_empty(0, dtype=torch.float32)
        biases = [b if b is not None else empty for b in native.float32(*transition.biases)]
        activation, skip = native.ACTIVATIONS[transition.activation], transition.skip
    return native.ops().rnn_forward_bf16(
        *native.contiguous(xp, h0), native.packed_bf16(weight_hh), native.ACTIVATIONS[nonlinearity],
        *native.float32(keep, recurrent_mask), weights, biases, activation, skip,
    )  # fmt: skip


def _forward(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition, *, save: bool):
    """The loop through time. Returns ys, h_T and, if ``save``, every h~ (ys itself without a keep mask)
    and what the transition's forward kept (an empty list without one)."""
    if xp.dtype == torch.bfloat16 and not save:  # bfloat16 inference has a loop of its own (see Precision)
        return (*_forward_bfloat16(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition), None)
    T, B, H = xp.shape
    m = recurrent_mask
    act_ = torch.Tensor.tanh_ if nonlinearity == "tanh" else torch.Tensor.relu_
    w_t = weight_hh.detach().t().contiguous()  # (H, H)
    mlp = TransitionForward(transition, T, B, save=save) if transition is not None else None
    ys = xp.new_empty(T, B, H)
    hs = [h0.detach(), *ys.unbind(0)]  # hs[t] = h_t
    # Without a keep mask h~ = h_t, so h~ is written straight into the states.
    h_tilde_buf = xp.new_empty(T if save else 1, B, H) if keep is not None else None
    h_tildes = per_step(h_tilde_buf, T) if keep is not None else hs[1:]
    xs = xp.detach().unbind(0)
    ks = keep.unbind(0) if keep is not None else None
    with loop_threads(step_products(B, weight_hh, layer_weights(transition))) as wide:
        for t in range(T):
            h_prev = hs[t]
            h_in = h_prev if m is None else h_prev * m
            with wide:
                if mlp is not None:
                    h_in = mlp.step(t, h_in)  # h'_{t-1} = MLP(h_{t-1} * m)
                torch.addmm(xs[t], h_in, w_t, out=h_tildes[t])  # a = xp_t + h'_{t-1} W_hh^T
            act_(h_tildes[t])  # h~ = act(a)
            if ks is not None:
                torch.lerp(h_tildes[t], h_prev, ks[t], out=hs[t + 1])  # h_t = k * h_{t-1} + (1 - k) * h~
    if not save:
        return ys, hs[T].clone(), None
    return ys, hs[T].clone(), (h_tilde_buf if keep is not None else ys, mlp.saved() if mlp is not None else [])


def _forward_bfloat16(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition):
    """The inference loop for bfloat16: the recurrent product in bfloat16, the rest in float32.

    The product goes to oneDNN with the weight packed once and xp_t added to its float32 accumulator,
    and is rounded to bfloat16 once; the nonlinearity and the keep mask run in float32 on a copy of it
    (bfloat16's tanh is 5x slower than float32's at batch 64, H 256: 28 us against 5 us). A transition's
    products likewise, its activation in float32.
    """
    T, B, H = xp.shape
    m = recurrent_mask
    act_ = torch.Tensor.tanh_ if nonlinearity == "tanh" else torch.Tensor.relu_
    kw = {"dtype": torch.float32, "device": xp.device}
    product = prepacked_linear(weight_hh.detach(), B)  # product(h, xp_t, out=a): a = xp_t + h W_hh^T
    mlp = None
    if transition is not None:
        mlp = TransitionForward(transition, T, B, save=False, elementwise=torch.float32)
    ys = xp.new_empty(T, B, H)  # (T, B, H)
    hs = [h0.detach(), *ys.unbind(0)]  # hs[t] = h_t in bfloat16: the products' inputs, and the outputs
    h_tilde = torch.empty(B, H, **kw)  # h~ in float32
    if keep is not None:
        states = float32_state(h0, T)  # in float32, so that a kept unit carries h exactly
        ks = keep.to(torch.float32).unbind(0)
    xs = xp.detach().unbind(0)
    with loop_threads(step_products(B, weight_hh, layer_weights(transition))) as wide:
        for t in range(T):
            h_in = hs[t] if m is None else hs[t] * m
            with wide:
                if mlp is not None:
                    h_in = mlp.step(t, h_in)  # h'_{t-1} = MLP(h_{t-1} * m), in bfloat16
                product(h_in, xs[t], out=h_tilde)  # a = xp_t + h'_{t-1} W_hh^T
            act_(h_tilde)  # h~ = act(a)
            if keep is not None:
                torch.lerp(h_tilde, states[t], ks[t], out=states[t + 1])  # h_t = k * h_{t-1} + (1 - k) * h~
                hs[t + 1].copy_(states[t + 1])
            else:
                hs[t + 1].copy_(h_tilde)
    return ys, hs[T].clone()


_TANH_BACKWARD = torch.ops.aten.tanh_backward.grad_input
_THRESHOLD_BACKWARD = torch.ops.aten.threshold_backward.grad_input


class _RNNScan(torch.autograd.Function):
    """Forward loop and hand-written backward through time (equations in the module docstring).

    ``form`` is the transition's ``(activation, skip)`` and ``layers`` its tensors W_1, b_1, W_2, ...,
    or None and nothing without a transition.
    """

    @staticmethod
    def forward(ctx, xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, form, *layers):
        transition = Transition.from_form(form, layers) if form is not None else None
        ys, h_T, (h_tildes, mlp_saved) = _forward(
            xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, transition, save=True
        )
        ctx.save_for_backward(h0, ys, h_tildes, weight_hh, keep, recurrent_mask, *layers, *mlp_saved)
        ctx.tanh = nonlinearity == "tanh"
        ctx.form = form
        return ys, h_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh_T):
        h0, ys, h_tilde_buf, weight_hh, keep, m, *rest = ctx.saved_tensors
        need = ctx.needs_input_grad
        n = len(need) - _LAYERS_AT  # W_1, b_1, ...; then what the transition's forward kept
        transition = Transition.from_form(ctx.form, rest[:n]) if ctx.form is not None else None
        mlp = TransitionBackward(transition, rest[n:]) if transition is not None else None
        T, B, H = h_tilde_buf.shape
        w = weight_hh.contiguous()
        da_buf = torch.empty_like(h_tilde_buf)  # (T, B, H); da_t = dxp_t
        das, h_tildes, dys_t = per_step(da_buf, T), per_step(h_tilde_buf, T), dys.unbind(0)
        ks = keep.unbind(0) if keep is not None else None
        dh = dys_t[T - 1] + dh_T
        with loop_threads(step_products(B, weight_hh, layer_weights(transition))) as wide:
            for t in range(T - 1, -1, -1):
                dht = dh if ks is None else torch.addcmul(dh, dh, ks[t], value=-1)  # dh~ = (1 - k) * dh
                if ctx.tanh:
                    _TANH_BACKWARD(dht, h_tildes[t], grad_input=das[t])  # da_t = dh~ * (1 - h~^2)
                else:
                    _THRESHOLD_BACKWARD(dht, h_tildes[t], 0, grad_input=das[t])  # da_t = dh~ * [h~ > 0]
                # dh_{t-1} = dL/dys_{t-1} + m * J^T(da_t W_hh) + k * dh
                dy_prev = dys_t[t - 1] if t > 0 else None
                with wide:
                    if mlp is not None:
                        back = mlp.step(t, torch.mm(das[t], w), m, dy_prev)
                    else:
                        back = recurrent_grad(das[t], w, m, dy_prev)
                if ks is not None:
                    back.addcmul_(ks[t], dh)
                dh = back
        dw = None
        if need[2]:
            # sum_t da_t^T h'_{t-1}: over the kept h', or h_0's B rows then the stacked h_1 .. h_{T-1}, masked
            dw = mlp.recurrent_weight_grad(da_buf) if mlp is not None else weight_grad_t(h0, ys, da_buf, m).t()
        layer_grads = mlp.grads(h0, ys, m, need[_LAYERS_AT:]) if mlp is not None else []
        return da_buf if need[0] else None, dh if need[1] else None, dw, None, None, None, None, *layer_grads


# Where the transition's tensors start among _RNNScan's arguments: after those its forward names (ctx aside).
_LAYERS_AT = _RNNScan.forward.__code__.co_argcount - 1
