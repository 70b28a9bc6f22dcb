r"""Fused LSTM scan: the whole sequence forward, and backpropagation through time written by hand.

Forward, for t = 1..T (time-major; ``xp_t = x_t W_ih^T + b_ih + b_hh`` computed by the caller in one
matmul; gate order i, f, g, o as ``torch.nn.LSTM``; :math:`\odot` is the elementwise product):

.. math::

    h'_{t-1} &= \mathrm{MLP}(m \odot h_{t-1})                   && m: \text{recurrent mask, else } 1 \\
    a_t &= xp_t + h'_{t-1} W_{hh}^T \\
    a'_t &= \gamma_g \odot \mathrm{LN}(a_t) + \beta_g             && \text{each gate block over its H units; else } a'_t = a_t \\
    i_t &= \sigma(a'_i + w_{ci} \odot c_{t-1}), \quad f_t = \sigma(a'_f + w_{cf} \odot c_{t-1}), \quad g_t = \tanh(a'_g) \\
    \tilde c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
    o_t &= \sigma(a'_o + w_{co} \odot \tilde c_t)                 && \text{peepholes } w_{c\cdot} \text{ only if given} \\
    n_t &= \gamma_c \odot \mathrm{LN}(\tilde c_t) + \beta_c,
        \quad \tau_t = \tanh(n_t)                                 && \text{no cell norm: } n_t = \tilde c_t \\
    \tilde h_t &= o_t \odot \tau_t \\
    c_t &= k^c_t \odot c_{t-1} + (1 - k^c_t) \odot \tilde c_t,
        \quad h_t = k^h_t \odot h_{t-1} + (1 - k^h_t) \odot \tilde h_t,
        \quad y_t = h_t                                           && \text{no keep: } k = 0

The keep masks ``k`` carry the state over unchanged where 1: zoneout, and steps past a sequence's length.
:math:`\mathrm{MLP}` is the identity, or with a ``transition`` the deep-transition MLP of
:mod:`rnnkit.kernels.transition` (``DeepTransition`` around this cell): the memory :math:`c_{t-1}` and the
keep masks' :math:`h_{t-1}` bypass it.

Backward. Write :math:`\delta x = \partial L / \partial x`. Two errors are carried back through time:
:math:`\delta h_t` (from the output :math:`y_t` and from step t+1) and :math:`\delta c_t` (from step t+1).
Starting from :math:`\delta h_T = \partial L/\partial y_T + \partial L/\partial h_T` and
:math:`\delta c_T = \partial L/\partial c_T`, for t = T..1:

.. math::

    \delta a'_o &= (1 - k^h_t) \odot \delta h_t \odot \tau_t \odot o_t (1 - o_t) \\
    \delta n_t &= (1 - k^h_t) \odot \delta h_t \odot o_t \odot (1 - \tau_t^2) \\
    \delta \tilde c_t &= (1 - k^c_t) \odot \delta c_t + \mathrm{LN}_c^\top(\delta n_t) + w_{co} \odot \delta a'_o \\
    \delta a'_i &= \delta \tilde c_t \odot g_t \odot i_t (1 - i_t), \quad
    \delta a'_f = \delta \tilde c_t \odot c_{t-1} \odot f_t (1 - f_t), \quad
    \delta a'_g = \delta \tilde c_t \odot i_t \odot (1 - g_t^2) \\
    \delta a_t &= \mathrm{LN}_g^\top(\delta a'_t) \\
    \delta c_{t-1} &= k^c_t \odot \delta c_t + f_t \odot \delta \tilde c_t + w_{ci} \odot \delta a'_i + w_{cf} \odot \delta a'_f \\
    \delta h_{t-1} &= \partial L/\partial y_{t-1} + k^h_t \odot \delta h_t + m \odot J_t^\top (\delta a_t W_{hh})
        && (\partial L/\partial y_0 = 0)

where :math:`\mathrm{LN}^\top(u) = \frac{1}{s}\,(\gamma u - \overline{\gamma u} - \hat z\, \overline{\gamma u \hat z})`
is the layer-norm Jacobian transposed (:math:`\hat z` the normalised input, :math:`s` its standard
deviation, bars the mean over the H units); without layer norm it is the identity. :math:`J_t^\top` is the
transition's Jacobian transposed (the identity without one; its backward recurrence is in
:mod:`rnnkit.kernels.transition`). The factors that do
not depend on :math:`\delta h_t, \delta c_t` (the products of activations above) are computed for a chunk
of steps at once, just before the chunk's iterations, so that each step costs few operations and the
chunk stays in cache. After the loop, with every step's errors stacked over time:

.. math::

    \delta xp_t = \delta a_t, \quad
    \delta W_{hh} = \sum_t \delta a_t^\top h'_{t-1} \;\text{(one matmul over the stacked steps)}, \quad
    \delta w_{ci} = \textstyle\sum \delta a'_i \odot c_{t-1}, \quad
    \delta w_{cf} = \sum \delta a'_f \odot c_{t-1}, \quad
    \delta w_{co} = \sum \delta a'_o \odot \tilde c_t, \\
    \delta \gamma_g = \textstyle\sum \delta a' \odot \hat a, \quad \delta \beta_g = \sum \delta a', \quad
    \delta \gamma_c = \sum \delta n \odot \hat c, \quad \delta \beta_c = \sum \delta n,
    \quad \delta h_0, \delta c_0 \text{ from the last iteration}

(sums over time and batch; the vector ones are accumulated chunk by chunk), and the transition's weight
gradients, one matmul a layer (:mod:`rnnkit.kernels.transition`).

Precision. float32 and float64 run as written. bfloat16 inputs use bfloat16 only where it pays: the
recurrent matmul (oneDNN with the weight packed once, accumulating in float32; its result, with xp_t
added inside oneDNN, is rounded to bfloat16 once). The gate nonlinearities, the cell state and the
layer norms run in float32, so the cell state (a running sum over time) is never rounded to bfloat16;
``h_t`` is rounded to bfloat16 once per step, as the next matmul's input and as the output. ``c_T`` is
returned in ``c0``'s dtype. Two cases run whole in float32, the inputs cast up once and the outputs cast
back to bfloat16 (by autograd for the gradients): training, and a small recurrent product (at most
``BFLOAT16_IN_FLOAT32_PRODUCTS`` multiply-adds a step), where oneDNN's bfloat16 product is slower
than a float32 one, unless the weight's float32 copy would outgrow the L2 cache
(:func:`rnnkit.kernels.linear.bfloat16_large_weight`: peepholes, H 512, batch 1 measured 0.67x the
float32 time in bfloat16). A transition's layers are products too, and run as the recurrent one does;
in the bfloat16 loop their activation runs in float32, as the gates do (:mod:`rnnkit.kernels.transition`;
one tanh layer, batch 64, T 100, H 256, one thread: 22.5-22.9 ms against 23.8 ms with it in bfloat16).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnkit.kernels._common import (
    alternating, bfloat16_in_float32, check_dtypes, check_scan, check_vector, float32_state, loop_threads,
    needs_grad, per_step, recurrent_grad, step_products, to_float32, weight_grad_t,
)
from rnnkit.kernels import native
from rnnkit.kernels.linear import prepacked_linear
from rnnkit.kernels.transition import (
    Transition, TransitionBackward, TransitionForward, check_transition, layer_weights,
)  # fmt: skip

_KERNEL = "lstm_scan"
_ARGUMENTS = (
    "xp", "h0", "c0", "weight_hh", "weight_ci", "weight_cf", "weight_co",
    "ln_gates_weight", "ln_gates_bias", "ln_cell_weight", "ln_cell_bias", "keep_h", "keep_c", "recurrent_mask",
)  # fmt: skip
_DX = [True, False, False]  # native_layer_norm_backward: the input's gradient only
_ALL = [True, True, True]  # and those of the weight and bias
_layer_norm_backward = torch.ops.aten.native_layer_norm_backward.default
# Elements of one (steps, B, H) slab of backward factors: a chunk's factors and errors (about a dozen
# such slabs) then fit in a core's L2 cache, and batch-1 sequences of a few hundred steps are one chunk.
_CHUNK_ELEMENTS = 32768
# Up to this many multiply-adds a step (batch x 4H x H) bfloat16 inference runs in float32. Measured, one
# thread: float32 faster at 1.05M (H 256 batch 4: 1.04x the float32 time against 1.37x in bfloat16;
# H 512 batch 1: 1.10x against 1.21x), bfloat16 faster at 2.1M (H 256 batch 8: 1.09x against 1.18x;
# H 512 batch 2: 0.67x).
BFLOAT16_IN_FLOAT32_PRODUCTS = 1 << 20
# Up to this batch, float32 inference of the plain LSTM (what torch.lstm computes) is faster in the native
# loop than in torch.lstm, oneDNN's fused LSTM. Measured, one thread, T 100, input 128, ms torch.lstm /
# native loop: H 256 batch 1 2.25 / 1.33, 2 2.60 / 1.91, 4 3.47 / 2.97, 8 5.09 / 5.19, 32 18.1 / 20.4;
# H 512 batch 1 16.2 / 15.6, 4 21.3 / 19.6, 8 21.3 / 24.1.
NATIVE_PLAIN_MAX_BATCH = 4


def plain_runs_native(x: Tensor, *params: Tensor | None) -> bool:
    """Whether the plain LSTM over ``x`` (T, B, ·) with these parameters runs faster in the native loop
    (:mod:`rnnkit.kernels.native`) than in ``torch.lstm``: float32 inference at batch at most
    :data:`NATIVE_PLAIN_MAX_BATCH` (bfloat16 at batch 1: 1.07 ms in ``torch.lstm``, 2.20 ms cast to float32
    for the native loop)."""
    if x.dtype != torch.float32 or x.dim() != 3 or x.shape[1] > NATIVE_PLAIN_MAX_BATCH:
        return False  # bfloat16: torch.lstm's oneDNN bfloat16 LSTM is faster than a float32 cast
    return not needs_grad(x, *params) and native.runs(x)


def lstm_scan(
    xp: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    *,
    weight_ci: Tensor | None = None,
    weight_cf: Tensor | None = None,
    weight_co: Tensor | None = None,
    ln_gates_weight: Tensor | None = None,
    ln_gates_bias: Tensor | None = None,
    ln_cell_weight: Tensor | None = None,
    ln_cell_bias: Tensor | None = None,
    ln_eps: float = 1e-5,
    keep_h: Tensor | None = None,
    keep_c: Tensor | None = None,
    recurrent_mask: Tensor | None = None,
    transition: Transition | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Run an LSTM over a whole sequence; returns ``(ys (T, B, H), h_T (B, H), c_T (B, H))``.

    Args:
        xp: (T, B, 4H) input projections of all steps, both biases added, gate order i, f, g, o.
        h0, c0: (B, H) initial state.
        weight_hh: (4H, H) recurrent weight, ``torch.nn.LSTM`` layout.
        weight_ci, weight_cf, weight_co: (H,) peephole weights (diagonal), each optional.
        ln_gates_weight, ln_gates_bias: (4H,) layer norm of each gate block of ``a_t``; both or neither.
        ln_cell_weight, ln_cell_bias: (H,) layer norm of the cell before its ``tanh``; both or neither.
        ln_eps: the layer norms' epsilon.
        keep_h, keep_c: (T, B, H) or (T, B, 1) masks; where 1 the state is carried over unchanged.
        recurrent_mask: (B, H) mask applied to ``h_{t-1}`` where it enters the recurrent matmul (with a
            transition, where it enters the transition: u_0 = m h_{t-1}).
        transition: a deep-transition MLP from ``m h_{t-1}`` to the recurrent matmul's input, its layers
            (H, H) (:mod:`rnnkit.kernels.transition`); differentiable in its weights and biases.

    All tensors share one floating dtype (float32, float64 or bfloat16). The equations, the backward
    recurrences and the bfloat16 precision choices are in this module's docstring.
    """
    _, batch, hidden = check_scan(_KERNEL, xp, h0, weight_hh, 4, recurrent_mask, keep_h=keep_h, keep_c=keep_c)
    if tuple(c0.shape) != (batch, hidden):
        raise ValueError(f"{_KERNEL}: c0 must be ({batch}, {hidden}), got {tuple(c0.shape)}")
    for name, value in (("weight_ci", weight_ci), ("weight_cf", weight_cf), ("weight_co", weight_co)):
        check_vector(_KERNEL, name, value, hidden)
    check_vector(_KERNEL, "ln_gates_weight", ln_gates_weight, 4 * hidden)
    check_vector(_KERNEL, "ln_gates_bias", ln_gates_bias, 4 * hidden)
    check_vector(_KERNEL, "ln_cell_weight", ln_cell_weight, hidden)
    check_vector(_KERNEL, "ln_cell_bias", ln_cell_bias, hidden)
    if (ln_gates_weight is None) != (ln_gates_bias is None):
        raise ValueError(f"{_KERNEL}: give both ln_gates_weight and ln_gates_bias, or neither")
    if (ln_cell_weight is None) != (ln_cell_bias is None):
        raise ValueError(f"{_KERNEL}: give both ln_cell_weight and ln_cell_bias, or neither")
    if transition is not None:
        check_transition(_KERNEL, transition, hidden)
    layers = transition.tensors() if transition is not None else []  # W_1, b_1, W_2, ...
    args = (
        xp, h0, c0, weight_hh, weight_ci, weight_cf, weight_co,
        ln_gates_weight, ln_gates_bias, ln_cell_weight, ln_cell_bias,
        keep_h, keep_c, recurrent_mask,
    )  # fmt: skip
    named = dict(zip(_ARGUMENTS, args)) | {f"transition[{k}]": value for k, value in enumerate(layers)}
    check_dtypes(_KERNEL, named, (torch.float32, torch.float64, torch.bfloat16))
    training = needs_grad(*args[:11], *layers)
    in_float32 = xp.dtype == torch.bfloat16 and (
        training or bfloat16_in_float32(xp, weight_hh, BFLOAT16_IN_FLOAT32_PRODUCTS)
    )
    if in_float32:
        args = to_float32(*args)
        layers = to_float32(*layers)
    if training:
        # the transition's tensors are arguments of their own, so that autograd routes their gradients
        form = transition.form if transition is not None else None
        ys, h_last, c_last = _LSTMScan.apply(*args, ln_eps, form, *layers)
    else:
        if transition is not None:
            transition = transition.with_tensors(layers)
        if native.runs(args[0]):
            ys, h_last, c_last = _forward_native(*args, ln_eps, transition)
        else:
            ys, h_last, c_last, _ = _forward(*args, ln_eps, save=False, transition=transition)
    return (ys.bfloat16(), h_last.bfloat16(), c_last.bfloat16()) if in_float32 else (ys, h_last, c_last)


def _forward(
    xp: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    w_ci: Tensor | None,
    w_cf: Tensor | None,
    w_co: Tensor | None,
    gamma_g: Tensor | None,
    beta_g: Tensor | None,
    gamma_c: Tensor | None,
    beta_c: Tensor | None,
    keep_h: Tensor | None,
    keep_c: Tensor | None,
    m: Tensor | None,
    eps: float,
    *,
    save: bool,
    transition: Transition | None = None,
) -> tuple[Tensor, Tensor, Tensor, dict[str, Any]]:
    """The forward loop. With ``save`` every step's activations are kept for backward, else one scratch row.

    The elementwise math runs in the compute dtype (float32 for bfloat16 inputs, see the module docstring).
    """
    T, B, H4 = xp.shape
    H = H4 // 4
    compute = torch.float32 if xp.dtype == torch.bfloat16 else xp.dtype
    kw = {"dtype": compute, "device": xp.device}
    w_ci, w_cf, w_co, gamma_g, beta_g, gamma_c, beta_c, keep_h, keep_c = (
        v.to(compute) if v is not None else None
        for v in (w_ci, w_cf, w_co, gamma_g, beta_g, gamma_c, beta_c, keep_h, keep_c)
    )
    product = prepacked_linear(weight_hh, B)  # product(h, xp_t, out=a): a = xp_t + h W_hh^T
    # phi in the compute dtype, as the gates: float32 in the bfloat16 loop, which only inference runs
    mlp = TransitionForward(transition, T, B, save=save, elementwise=compute) if transition is not None else None
    rows = T if save else 1

    # hs[t] = h_t in the input dtype: h0, then the rows of ys (a tensor of its own, so that a caller
    # may modify it in place).
    ys = torch.empty(T, B, H, dtype=xp.dtype, device=xp.device)  # (T, B, H)
    hs = [h0, *ys.unbind(0)]
    # The state in the compute dtype: the same tensors, or for bfloat16 two float32 rows taking turns.
    hs_state = hs if compute == xp.dtype else float32_state(h0, T)
    if save:
        cs_buf = torch.empty(T + 1, B, H, **kw)  # (T+1, B, H): c_0 .. c_T
        cs = per_step(cs_buf, T + 1)
    else:
        cs_buf = torch.empty(2, B, H, **kw)  # c_{t-1} and c_t take turns
        cs = alternating(cs_buf, T + 1)
    cs_buf[0] = c0
    # i, f, g, o after their nonlinearities: (T, B, 4H) for backward, or one scratch row. With the gate
    # norm the forward pass computes them in one row that stays in cache and keeps a copy of each step's
    # row for backward, as it keeps a^_t: tensors of (B, 4H) the allocator hands back call after call,
    # where a (T, B, 4H) buffer, new at every call, cost about 10 ms of page faults a call at batch 64,
    # H 256 (measured: 366 against 255 us a step for the product writing its first rows).
    gate_rows = rows if gamma_g is None else 1
    gates_buf = torch.empty(gate_rows, B, H4, **kw)
    c_tilde_buf = torch.empty(rows, B, H, **kw) if keep_c is not None else None
    tau_buf = torch.empty(rows, B, H, **kw)  # tanh(n_t)
    h_tilde = torch.empty(B, H, **kw) if keep_h is not None else None

    xs = xp.unbind(0)
    gates = per_step(gates_buf, T)
    g_if = per_step(gates_buf[..., : 2 * H].view(gate_rows, B, 2, H).transpose(1, 2), T)  # (2, B, H): i and f
    g_i = per_step(gates_buf[..., :H], T)
    g_f = per_step(gates_buf[..., H : 2 * H], T)
    g_g = per_step(gates_buf[..., 2 * H : 3 * H], T)
    g_o = per_step(gates_buf[..., 3 * H :], T)
    c_tilde = per_step(c_tilde_buf, T) if c_tilde_buf is not None else cs[1:]
    taus = per_step(tau_buf, T)
    keep_hs = keep_h.unbind(0) if keep_h is not None else None
    keep_cs = keep_c.unbind(0) if keep_c is not None else None
    if gamma_g is not None:
        gamma_g4, beta_g4 = gamma_g.view(4, H), beta_g.view(4, H)
        gates4 = per_step(gates_buf.view(gate_rows, B, 4, H), T)  # (B, 4, H): the blocks the norm runs over
    # The i and f peepholes as one product: (2, 1, H) weights times c_{t-1}, over the (2, B, H) block.
    w_cif = _stack_or_zeros(w_ci, w_cf, **kw).unsqueeze(1) if w_ci is not None or w_cf is not None else None
    a_hat_g, gates_g, rstd_g, mu_c, rstd_c = [], [], [], [], []

    with loop_threads(step_products(B, weight_hh, layer_weights(transition))) as wide:
        for t in range(T):
            h_prev, c_prev = hs[t], cs[t]
            h_in = h_prev * m if m is not None else h_prev
            with wide:
                if mlp is not None:
                    h_in = mlp.step(t, h_in)  # h'_{t-1} = MLP(m h_{t-1})
                # a_t = xp_t + h'_{t-1} W_hh^T
                product(h_in, xs[t], out=gates[t])
            if gamma_g is not None:
                # a'_t = gamma_g * LN(a_t) + beta_g, per gate block, over a_t in place. Backward keeps the
                # norm's own output a^_t (a tensor of its own each step, taken as it is: no copy) and 1 / s_t,
                # not a_t: the sum for delta gamma_g is then one product a step (see _backward).
                a_hat, _, rstd = torch.native_layer_norm(gates4[t], (H,), None, None, eps)
                torch.addcmul(beta_g4, a_hat, gamma_g4, out=gates4[t])
                if save:
                    a_hat_g.append(a_hat)
                    rstd_g.append(rstd)
            i, f, g, o = g_i[t], g_f[t], g_g[t], g_o[t]
            if w_cif is not None:
                g_if[t].addcmul_(w_cif, c_prev)  # a'_i + w_ci c_{t-1}, a'_f + w_cf c_{t-1}
            g_if[t].sigmoid_()
            g.tanh_()
            # c~_t = f * c_{t-1} + i * g
            c_t = c_tilde[t]
            torch.mul(f, c_prev, out=c_t)
            c_t.addcmul_(i, g)
            if w_co is not None:
                o.addcmul_(w_co, c_t)
            o.sigmoid_()
            if save and gamma_g is not None:
                gates_g.append(gates[t].clone())
            # tau_t = tanh(n_t),  n_t = LN_c(c~_t)
            if gamma_c is not None:
                n, mu, rstd = torch.native_layer_norm(c_t, (H,), gamma_c, beta_c, eps)
                torch.tanh(n, out=taus[t])
                if save:
                    mu_c.append(mu)
                    rstd_c.append(rstd)
            else:
                torch.tanh(c_t, out=taus[t])
            # c_t, and h_t from h~_t = o * tau, with the keep masks
            if keep_cs is not None:
                torch.lerp(c_t, c_prev, keep_cs[t], out=cs[t + 1])
            if keep_hs is not None:
                torch.mul(o, taus[t], out=h_tilde)
                torch.lerp(h_tilde, hs_state[t], keep_hs[t], out=hs_state[t + 1])
                if hs_state is not hs:
                    hs[t + 1].copy_(hs_state[t + 1])
            else:
                torch.mul(o, taus[t], out=hs[t + 1])

    saved: dict[str, Any] = {}  # the tensors of _SAVED, the gate norm's per-step list, the transition's list
    if save:
        saved = {
            "ys": ys,
            "cs": cs_buf,
            "gates": gates_buf if gamma_g is None else None,
            "c_tilde": c_tilde_buf,
            "tau": tau_buf,
            "rstd_g": torch.stack(rstd_g) if rstd_g else None,  # (T, B, 4, 1)
            "mu_c": torch.stack(mu_c) if mu_c else None,  # (T, B, 1)
            "rstd_c": torch.stack(rstd_c) if rstd_c else None,
        }
        saved["ln_steps"] = a_hat_g + gates_g  # the gate norm's T a^_t (B, 4, H), then T rows i, f, g, o (B, 4H)
        if mlp is not None:
            saved["transition"] = mlp.saved()
    return ys, hs[T].clone(), cs[T].to(c0.dtype, copy=True), saved


def _forward_native(xp, h0, c0, weight_hh, *rest) -> tuple[Tensor, Tensor, Tensor]:
    """The forward loop in C++ (:mod:`rnnkit.kernels.native`), float32 inference: same arguments as
    :func:`_forward` without ``save``."""
    *vectors, eps, transition = rest  # w_ci .. beta_c, keep_h, keep_c, m; eps; transition
    weights_t, biases, activation, skip = native.transition_arguments(transition)
    with loop_threads(step_products(xp.shape[1], weight_hh, layer_weights(transition))) as wide, wide:
        return native.ops().lstm_forward(
            *native.contiguous(xp, h0, c0), native.transposed(weight_hh), *native.contiguous(*vectors[:7]), eps,
            *native.contiguous(*vectors[7:]), weights_t, biases, activation, skip,
        )  # fmt: skip


def _stack_or_zeros(*vectors: Tensor | None, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Stack (H,) vectors into (n, H), zeros standing in for the missing ones."""
    size = next(v for v in vectors if v is not None).shape[0]
    return torch.stack([v if v is not None else torch.zeros(size, dtype=dtype, device=device) for v in vectors])


# What backward reads: these arguments (named as in the equations), then what the forward loop kept.
_PARAMS = ("h0", "weight_hh", "w_ci", "w_cf", "w_co", "gamma_g", "beta_g", "gamma_c", "beta_c", "keep_h", "keep_c", "m")
_SAVED = ("ys", "cs", "gates", "c_tilde", "tau", "rstd_g", "mu_c", "rstd_c")
# Where the transition's tensors start among _LSTMScan's arguments: after _ARGUMENTS, eps and form.
_LAYERS_AT = len(_ARGUMENTS) + 2


class _LSTMScan(torch.autograd.Function):
    """Forward loop and hand-written backward through time (equations in the module docstring).

    ``form`` is the transition's ``(activation, skip)`` and ``layers`` its tensors W_1, b_1, W_2, ...,
    or None and nothing without a transition.
    """

    @staticmethod
    def forward(ctx, xp, h0, c0, weight_hh, w_ci, w_cf, w_co, gamma_g, beta_g, gamma_c, beta_c,
                keep_h, keep_c, m, eps, form, *layers):  # fmt: skip
        transition = Transition.from_form(form, layers) if form is not None else None
        ys, h_last, c_last, saved = _forward(
            xp, h0, c0, weight_hh, w_ci, w_cf, w_co, gamma_g, beta_g, gamma_c, beta_c,
            keep_h, keep_c, m, eps, save=True, transition=transition,
        )  # fmt: skip
        ctx.form = form
        ctx.ln_steps = len(saved["ln_steps"])
        ctx.save_for_backward(
            h0, weight_hh, w_ci, w_cf, w_co, gamma_g, beta_g, gamma_c, beta_c, keep_h, keep_c, m,
            *(saved[k] for k in _SAVED), *saved["ln_steps"], *layers, *saved.get("transition", ()),
        )  # fmt: skip
        return ys, h_last, c_last

    @staticmethod
    @once_differentiable
    def backward(ctx, d_ys, d_h_last, d_c_last):
        tensors = ctx.saved_tensors
        p = dict(zip(_PARAMS, tensors[: len(_PARAMS)]))
        at = len(_PARAMS) + len(_SAVED)
        s = dict(zip(_SAVED, tensors[len(_PARAMS) : at]))
        s["ln_steps"] = tensors[at : at + ctx.ln_steps]
        rest = tensors[at + ctx.ln_steps :]  # the transition's tensors, then what its forward kept
        n = len(ctx.needs_input_grad) - _LAYERS_AT  # W_1, b_1, ...
        transition = Transition.from_form(ctx.form, rest[:n]) if ctx.form is not None else None
        mlp = TransitionBackward(transition, list(rest[n:])) if transition is not None else None
        grads, layer_grads = _backward(d_ys, d_h_last, d_c_last, p, s, ctx.needs_input_grad, mlp)
        return (*grads, None, None, None, None, None, *layer_grads)


def _factors(i, f, g, o, c_prev, tau, keep_h, w_ci, w_cf, w_co_in_k_n, k_o, k_n, k_ifg, k_carry, tmp):
    """The products of activations in the backward recurrences, for a chunk of n steps.

    All (n, B, H) but ``k_ifg`` (n, 3, B, H), so that a (B, H) error broadcasts over its three blocks:

        k_o = (1 - k^h) tau o (1 - o)          delta a'_o = delta h_t k_o
        k_n = (1 - k^h) o (1 - tau^2)          delta n_t = delta h_t k_n
        k_ifg = [g i (1 - i), c_{t-1} f (1 - f), i (1 - g^2)]      delta a'_{i,f,g} = delta c~_t k_ifg
        k_carry = f + w_ci k_i + w_cf k_f      delta c_{t-1} = k^c delta c_t + delta c~_t k_carry

    with k_i, k_f the first two blocks of k_ifg. ``k_carry`` folds the i and f peepholes into the cell's
    carry; without them it is None (the carry factor is then f itself). Given ``w_co_in_k_n`` (when there
    is no cell norm), ``k_n`` also takes ``w_co k_o``: the path delta a'_o -> delta c~_t.
    """
    torch.addcmul(o, o, o, value=-1, out=tmp)  # o (1 - o)
    torch.mul(tmp, tau, out=k_o)
    torch.mul(tau, tau, out=tmp)
    torch.addcmul(o, o, tmp, value=-1, out=k_n)  # o (1 - tau^2)
    if keep_h is not None:
        k_o.addcmul_(k_o, keep_h, value=-1)
        k_n.addcmul_(k_n, keep_h, value=-1)
    if w_co_in_k_n is not None:
        k_n.addcmul_(k_o, w_co_in_k_n)
    torch.addcmul(i, i, i, value=-1, out=tmp)  # i (1 - i)
    torch.mul(tmp, g, out=k_ifg[:, 0])
    torch.addcmul(f, f, f, value=-1, out=tmp)  # f (1 - f)
    torch.mul(tmp, c_prev, out=k_ifg[:, 1])
    torch.mul(g, g, out=tmp)
    torch.addcmul(i, i, tmp, value=-1, out=k_ifg[:, 2])  # i (1 - g^2)
    if k_carry is not None:
        k_carry.copy_(f)
        if w_ci is not None:
            k_carry.addcmul_(k_ifg[:, 0], w_ci)
        if w_cf is not None:
            k_carry.addcmul_(k_ifg[:, 1], w_cf)


def _backward(d_ys, d_h_last, d_c_last, p, s, needs, mlp):
    """Backpropagation through time; returns the gradients of xp .. ln_cell_bias and those of the
    transition's tensors (``mlp``, or None without one), None where not needed."""
    weight_hh, w_ci, w_cf, w_co = p["weight_hh"], p["w_ci"], p["w_cf"], p["w_co"]
    gamma_g, gamma_c, beta_c = p["gamma_g"], p["gamma_c"], p["beta_c"]
    keep_h, keep_c, m = p["keep_h"], p["keep_c"], p["m"]
    h0, ys, cs, gates_buf, tau = p["h0"], s["ys"], s["cs"], s["gates"], s["tau"]
    T, B, H = tau.shape
    H4 = 4 * H
    kw = {"dtype": tau.dtype, "device": tau.device}
    c_prev = cs[:-1]  # (T, B, H): c_{t-1}
    c_tilde = s["c_tilde"] if s["c_tilde"] is not None else cs[1:]
    peep_if = w_ci is not None or w_cf is not None

    # Scratch for one chunk of factors, reused by every chunk.
    chunk = max(1, min(T, _CHUNK_ELEMENTS // (B * H)))
    k_o, k_n, tmp = (torch.empty(chunk, B, H, **kw) for _ in range(3))
    k_ifg = torch.empty(chunk, 3, B, H, **kw)  # (n, 3, B, H)
    k_carry = torch.empty(chunk, B, H, **kw) if peep_if else None
    k_os, k_ns, k_ifgs = k_o.unbind(0), k_n.unbind(0), k_ifg.unbind(0)
    k_carries = k_carry.unbind(0) if k_carry is not None else None

    # Every step's delta a' (after the gate norm). With the gate norm, a chunk's delta a (before the norm)
    # replaces its delta a' once the chunk's parameter sums have used them.
    d_ap_buf = torch.empty(T, B, H4, **kw)  # (T, B, 4H)
    if gamma_g is not None:
        d_ap4 = per_step(d_ap_buf.view(T, B, 4, H), T)  # (B, 4, H): the blocks the norm runs over
    else:
        d_ap = per_step(d_ap_buf, T)
    d_ap_ifg = per_step(d_ap_buf[..., : 3 * H].view(T, B, 3, H).transpose(1, 2), T)  # (3, B, H) views
    d_ap_o = per_step(d_ap_buf[..., 3 * H :], T)
    dys = d_ys.unbind(0)
    keep_hs = keep_h.unbind(0) if keep_h is not None else None
    keep_cs = keep_c.unbind(0) if keep_c is not None else None
    if gamma_g is not None:
        # LN_g^T from the kept a^_t: native_layer_norm_backward of u / s_t with a^_t as its input, mean 0
        # and 1 / s = 1, is LN_g^T(u) (LN^T's factor 1 / s_t moves into u). A chunk's gamma_g / s_t are one
        # product before its steps.
        a_hats, gates_g = s["ln_steps"][:T], s["ln_steps"][T:]  # T of (B, 4, H), T of (B, 4H)
        rstd_g = s["rstd_g"]  # (T, B, 4, 1)
        gates_chunk = torch.empty(chunk, B, H4, **kw)  # (n, B, 4H): a chunk's i, f, g, o, stacked
        gamma_over_s = torch.empty(chunk, B, 4, H, **kw)  # (n, B, 4, H)
        gamma_over_ss = gamma_over_s.unbind(0)
        u = torch.empty(B, 4, H, **kw)  # gamma_g delta a'_t / s_t
        zero_mean, unit_rstd = torch.zeros(B, 4, 1, **kw), torch.ones(B, 4, 1, **kw)
        d_gamma_g = torch.zeros(B, 4, H, **kw)  # sum over t of delta a'_t a^_t, summed over B at the end
    if gamma_c is not None:
        c_tildes = c_tilde.unbind(0)
        mu_c, rstd_c = s["mu_c"].unbind(0), s["rstd_c"].unbind(0)
        d_n = torch.empty(B, H, **kw)  # delta n_t
        d_cell_norm = []  # each step's (delta gamma_c, delta beta_c), summed at the end

    # Vector-parameter gradients, summed chunk by chunk (the norms' scales and the cell norm's shift: step
    # by step, see above).
    sizes = {"w_ci": H, "w_cf": H, "w_co": H, "beta_g": H4}
    sums = {name: torch.zeros(size, **kw) for name, size in sizes.items()}

    dh = dys[T - 1] + d_h_last  # delta h_T
    dc = d_c_last.clone()  # delta c_T
    with loop_threads(step_products(B, weight_hh, layer_weights(mlp))) as wide:
        for end in range(T, 0, -chunk):
            start = max(0, end - chunk)
            n = end - start
            span = slice(start, end)
            if gates_buf is not None:
                gates_n = gates_buf[span]
            else:
                gates_n = torch.stack(gates_g[span], out=gates_chunk[:n])
            i, f, g, o = gates_n.split(H, dim=-1)  # (n, B, H) each
            fs = f.unbind(0) if k_carry is None else None
            _factors(
                i, f, g, o, c_prev[span], tau[span],
                keep_h[span] if keep_h is not None else None, w_ci, w_cf, w_co if gamma_c is None else None,
                k_o[:n], k_n[:n], k_ifg[:n], k_carry[:n] if k_carry is not None else None, tmp[:n],
            )  # fmt: skip
            if gamma_g is not None:
                torch.mul(gamma_g.view(4, H), rstd_g[span], out=gamma_over_s[:n])  # gamma_g / s_t
            d_a_chunk = []  # the gate norm's input errors of this chunk, last step first
            for t in range(end - 1, start - 1, -1):
                j = t - start
                # delta a'_o
                torch.mul(dh, k_os[j], out=d_ap_o[t])
                # delta c~_t = (1 - k^c) delta c_t + LN_c^T(delta n) + w_co delta a'_o
                if keep_cs is not None:
                    carry = torch.mul(dc, keep_cs[t])  # k^c delta c_t
                    dct = dc.sub_(carry)
                else:
                    dct = dc
                if gamma_c is not None:
                    torch.mul(dh, k_ns[j], out=d_n)
                    d_c_tilde, d_gamma_c, d_beta_c = _layer_norm_backward(
                        d_n, c_tildes[t], (H,), mu_c[t], rstd_c[t], gamma_c, beta_c, _ALL
                    )  # fmt: skip
                    d_cell_norm.append((d_gamma_c, d_beta_c))
                    dct.add_(d_c_tilde)
                    if w_co is not None:
                        dct.addcmul_(d_ap_o[t], w_co)
                else:
                    dct.addcmul_(dh, k_ns[j])  # w_co delta a'_o is folded into k_n
                # delta a'_i, a'_f, a'_g
                torch.mul(dct, k_ifgs[j], out=d_ap_ifg[t])
                # delta c_{t-1} = k^c delta c_t + delta c~_t k_carry
                carry_factor = k_carries[j] if k_carries is not None else fs[j]
                dc = carry.addcmul_(dct, carry_factor) if keep_cs is not None else dct.mul_(carry_factor)
                # delta a_t = LN_g^T(delta a'_t)
                if gamma_g is not None:
                    torch.mul(d_ap4[t], gamma_over_ss[j], out=u)
                    da = _layer_norm_backward(u, a_hats[t], (H,), zero_mean, unit_rstd, None, None, _DX)[0].view(B, H4)
                    d_a_chunk.append(da)
                    d_gamma_g.addcmul_(d_ap4[t], a_hats[t])
                else:
                    da = d_ap[t]
                # delta h_{t-1} = dL/dy_{t-1} + k^h delta h_t + m J^T(delta a_t W_hh)
                dy_prev = dys[t - 1] if t > 0 else None
                with wide:
                    if mlp is not None:
                        dh_prev = mlp.step(t, torch.mm(da, weight_hh), m, dy_prev)
                    else:
                        dh_prev = recurrent_grad(da, weight_hh, m, dy_prev)
                if keep_hs is not None:
                    dh_prev.addcmul_(dh, keep_hs[t])
                dh = dh_prev
            _accumulate_sums(sums, d_ap_buf[span], c_prev[span], c_tilde[span], p)
            if d_a_chunk:
                torch.stack(d_a_chunk[::-1], out=d_ap_buf[span])
    d_a_buf = d_ap_buf  # (T, B, 4H): delta a_t

    if not needs[3]:
        d_w_hh = None
    elif mlp is not None:
        d_w_hh = mlp.recurrent_weight_grad(d_a_buf)  # sum_t delta a_t^T h'_{t-1}
    else:
        # sum_t delta a_t^T (h_{t-1} * m): h_0's B rows, then one product over the stacked h_1 .. h_{T-1}
        d_w_hh = weight_grad_t(h0, ys, d_a_buf, m).t()
    layer_grads = mlp.grads(h0, ys, m, needs[_LAYERS_AT:]) if mlp is not None else []

    if gamma_g is not None:
        sums["gamma_g"] = d_gamma_g.sum(0).view(H4)
    if gamma_c is not None:
        d_gamma_c, d_beta_c = zip(*d_cell_norm)
        sums["gamma_c"], sums["beta_c"] = torch.stack(d_gamma_c).sum(0), torch.stack(d_beta_c).sum(0)

    def vector_grad(name: str, index: int) -> Tensor | None:
        return sums[name] if needs[index] else None

    grads = (
        d_a_buf if needs[0] else None,
        dh if needs[1] else None,
        dc if needs[2] else None,
        d_w_hh,
        vector_grad("w_ci", 4),
        vector_grad("w_cf", 5),
        vector_grad("w_co", 6),
        vector_grad("gamma_g", 7),
        vector_grad("beta_g", 8),
        vector_grad("gamma_c", 9),
        vector_grad("beta_c", 10),
    )
    return grads, layer_grads


def _accumulate_sums(sums, d_ap, c_prev, c_tilde, p):
    """Add one chunk's share of the vector-parameter gradients (sums over time and batch)."""
    n, B, H4 = d_ap.shape
    H = H4 // 4
    if p["w_ci"] is not None:
        sums["w_ci"].add_((d_ap[..., :H] * c_prev).sum((0, 1)))  # delta a'_i c_{t-1}
    if p["w_cf"] is not None:
        sums["w_cf"].add_((d_ap[..., H : 2 * H] * c_prev).sum((0, 1)))  # delta a'_f c_{t-1}
    if p["w_co"] is not None:
        sums["w_co"].add_((d_ap[..., 3 * H :] * c_tilde).sum((0, 1)))  # delta a'_o c~_t
    if p["gamma_g"] is not None:
        sums["beta_g"].add_(d_ap.sum((0, 1)))
