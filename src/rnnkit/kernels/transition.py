r"""A deep transition inside a scan kernel: an MLP on the path from :math:`h_{t-1}` to the recurrent product.

The part of ``DeepTransition``'s recurrence (Pascanu et al. 2014) that a fused kernel runs for it: used by
``lstm_scan`` and ``rnn_scan``, the kernels whose cell reads :math:`h_{t-1}` only through its recurrent
product. Forward, at every step t (all (B, R), R the size of :math:`h`; :math:`\phi` the activation):

.. math::

    u_0 &= m \odot h_{t-1}                                       && m: \text{recurrent mask, else } 1 \\
    z_k &= u_{k-1} W_k^T + b_k, \quad u_k = \phi(z_k)            && k = 1..L \\
    h'_{t-1} &= u_L \quad\text{or, with skip,}\quad h'_{t-1} = u_0 + u_L

and the kernel's recurrent product takes :math:`h'_{t-1}` in place of :math:`m \odot h_{t-1}`
(``a_t = xp_t + h'_{t-1} W_{hh}^T``). The kernel's keep masks still mix the state :math:`h_{t-1}` itself.

Backward. Write :math:`\delta x = \partial L / \partial x`. Given :math:`\delta h'_{t-1} = \delta a_t W_{hh}`
from the kernel's loop, at every step:

.. math::

    \delta u_L &= \delta h'_{t-1} \\
    \delta z_k &= \delta u_k \odot \phi'(u_k), \quad \delta u_{k-1} = \delta z_k W_k  && k = L..1 \\
    \delta u_0 &\mathrel{+}= \delta h'_{t-1}                                         && \text{skip only} \\
    \delta h_{t-1} &= \partial L/\partial y_{t-1} + m \odot \delta u_0 \;(+\, k^h_t \odot \delta h_t, \text{ added by the kernel})

:math:`\phi'` is written with :math:`\phi`'s output, so that the pass keeps the :math:`u_k` and no
pre-activation: tanh :math:`1 - u^2`, sigmoid :math:`u (1 - u)`, relu :math:`1[u > 0]` (0 at 0, as
autograd's). The factors :math:`\phi'(u_k)` of all steps are computed in one pass before the kernel's
backward loop, into the buffers that then receive :math:`\delta z_k` in place. After the loop, with every
step stacked over time:

.. math::

    \delta W_k = \textstyle\sum_t \delta z_k^\top u_{k-1}, \quad \delta b_k = \sum \delta z_k, \quad
    \delta W_{hh} = \sum_t \delta a_t^\top h'_{t-1}

each weight one matmul over the T*B stacked rows (for k = 1, :math:`u_0 = m \odot h_{t-1}` from the
kernel's :math:`h_0` and outputs, which it keeps anyway).

Precision: the layers' products run in the dtype of the kernel's recurrent product, and :math:`\phi` in
the dtype the kernel gives (``elementwise``, by default the same). In a bfloat16 loop on the oneDNN route
(a CPU with native bfloat16, :func:`rnnkit.kernels.linear.onednn_bfloat16`) each :math:`z_k` is rounded
to bfloat16 once by its product; on MKL's route the product runs in float32 and, with :math:`\phi` in
float32, :math:`z_k` is not rounded. The bfloat16 inference loops of ``lstm_scan`` and ``rnn_scan`` run
:math:`\phi` in float32, as their own nonlinearities, and round :math:`u_k` to bfloat16 only as the next
product's input (and :math:`h'_{t-1}`, with skip the float32 sum, as the recurrent product's): bfloat16's tanh costs 28 us at
batch 64, R 256, float32's 5 us and the two casts 5 us. Everywhere else (float32, float64, bfloat16 run
in float32, bfloat16 training) the whole pass runs in the dtype of the loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.kernels._common import per_step, recurrent_grad, weight_grad_t
from rnnkit.kernels.linear import prepacked_linear

ACTIVATIONS = ("tanh", "relu", "sigmoid")
# The callables recognised as each activation: torch's functions and functional forms (compared by
# identity) and the modules (compared by exact type: a subclass may compute something else).
_FUNCTIONS = {"tanh": (torch.tanh, F.tanh), "relu": (torch.relu, F.relu), "sigmoid": (torch.sigmoid, F.sigmoid)}
_MODULES = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.Sigmoid: "sigmoid"}
_IN_PLACE = {"tanh": Tensor.tanh_, "relu": Tensor.relu_, "sigmoid": Tensor.sigmoid_}  # phi applied in place


def activation_name(fn: Callable[[Tensor], Tensor]) -> str | None:
    """The name (one of :data:`ACTIVATIONS`) of an activation whose derivative the kernels compute from its
    output, or None for any other callable (which a fused kernel cannot run)."""
    for name, functions in _FUNCTIONS.items():
        if any(fn is f for f in functions):
            return name
    return _MODULES.get(type(fn))


@dataclass(frozen=True, eq=False)
class Transition:
    """The transition MLP as a scan kernel takes it (equations in the module docstring).

    Compared and hashed by identity: equality of its tensors has no single truth value.

    Attributes:
        weights: W_1 .. W_L, (R, R) each, ``nn.Linear``'s layout (out, in).
        biases: b_1 .. b_L, (R,) each or None.
        activation: phi, one of :data:`ACTIVATIONS`.
        skip: h' = u_0 + u_L instead of u_L.
    """

    weights: tuple[Tensor, ...]
    biases: tuple[Tensor | None, ...]
    activation: str = "tanh"
    skip: bool = False

    @property
    def form(self) -> tuple[str, bool]:
        """``(activation, skip)``: what a kernel's autograd function takes besides :meth:`tensors`."""
        return self.activation, self.skip

    @classmethod
    def from_form(cls, form: tuple[str, bool], tensors: Sequence[Tensor | None]) -> Transition:
        """The transition of this :attr:`form` over ``tensors``, given in the order of :meth:`tensors`."""
        return cls(tuple(tensors[0::2]), tuple(tensors[1::2]), *form)

    def tensors(self) -> list[Tensor | None]:
        """W_1, b_1, W_2, b_2, ...: the order in which a kernel's autograd function takes them."""
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    def with_tensors(self, tensors: Sequence[Tensor | None]) -> Transition:
        """The same transition over other tensors, given in the order of :meth:`tensors`."""
        return Transition.from_form(self.form, tensors)


def layer_weights(transition: Transition | TransitionBackward | None) -> tuple[Tensor, ...]:
    """W_1 .. W_L of a transition (or of its backward pass), none without one: the products a step adds to
    the recurrent one (:func:`rnnkit.kernels._common.step_products`)."""
    return transition.weights if transition is not None else ()


def check_transition(kernel: str, transition: Transition, size: int) -> None:
    """Check a transition's form and that its layers are (size, size) with (size,) biases."""
    if transition.activation not in ACTIVATIONS:
        raise ValueError(f"{kernel}: transition activation must be one of {ACTIVATIONS}, got {transition.activation!r}")
    if not transition.weights or len(transition.weights) != len(transition.biases):
        raise ValueError(
            f"{kernel}: transition needs one bias (or None) per weight and at least one layer, got "
            f"{len(transition.weights)} weights and {len(transition.biases)} biases"
        )
    for k, (weight, bias) in enumerate(zip(transition.weights, transition.biases), start=1):
        if tuple(weight.shape) != (size, size):
            raise ValueError(f"{kernel}: transition weight {k} must be ({size}, {size}), got {tuple(weight.shape)}")
        if bias is not None and tuple(bias.shape) != (size,):
            raise ValueError(f"{kernel}: transition bias {k} must be ({size},), got {tuple(bias.shape)}")


class TransitionForward:
    """The transition's share of a scan's forward loop: ``step(t, u_0) -> h'_{t-1}``.

    With ``save`` every step's u_1 .. u_L (and h' with skip) are kept, (T, B, R) each, for
    :class:`TransitionBackward`; without it one scratch row per layer is reused at every step.
    ``elementwise`` is the dtype phi runs in, by default the weights'; another one (float32 under
    bfloat16 weights, the precision paragraph of the module docstring) only without ``save``. u_0 and
    the returned h' are in the weights' dtype either way.
    """

    def __init__(
        self, transition: Transition, steps: int, batch: int, *, save: bool, elementwise: torch.dtype | None = None
    ) -> None:
        weight = transition.weights[0]
        R = weight.shape[0]
        elementwise = elementwise or weight.dtype
        if save and elementwise != weight.dtype:
            raise ValueError(
                f"TransitionForward: saving for backward needs phi in the weights' dtype {weight.dtype}, "
                f"got elementwise={elementwise}"
            )
        kw = {"dtype": elementwise, "device": weight.device}
        kw_weights = {"dtype": weight.dtype, "device": weight.device}
        rows = steps if save else 1
        self.phi_, self.skip = _IN_PLACE[transition.activation], transition.skip
        # product(u, out=z): z = u W_k^T + b_k, the weight laid out once for the engine, the bias fused
        self.products = [prepacked_linear(w, batch, b) for w, b in zip(transition.weights, transition.biases)]
        self.u_bufs = [torch.empty(rows, batch, R, **kw) for _ in transition.weights]  # (T, B, R): u_1 .. u_L
        self.us = [per_step(buf, steps) for buf in self.u_bufs]
        # With phi in another dtype, u_k rounded to the weights' dtype as the next product's input, and h'
        self.rounded = torch.empty(batch, R, **kw_weights) if elementwise != weight.dtype else None
        self.h_prime_buf = torch.empty(rows, batch, R, **kw_weights) if self.skip else None
        self.h_primes = per_step(self.h_prime_buf, steps) if self.skip else self.us[-1]  # u_0 + u_L, or u_L

    def step(self, t: int, u_0: Tensor) -> Tensor:
        """h'_{t-1} from u_0 = m h_{t-1}."""
        u = u_0
        for k, (product, us) in enumerate(zip(self.products, self.us)):
            if k and self.rounded is not None:
                u = self.rounded.copy_(u)
            # u_k = phi(u_{k-1} W_k^T + b_k)
            u = self.phi_(product(u, out=us[t]))
        if self.skip:
            return torch.add(u_0, u, out=self.h_primes[t])  # with phi in float32, the sum rounded once
        return u if self.rounded is None else self.rounded.copy_(u)

    def saved(self) -> list[Tensor | None]:
        """What backward reads: u_1 .. u_L, then h' with skip (else None; it is u_L)."""
        return [*self.u_bufs, self.h_prime_buf]


class TransitionBackward:
    """The transition's share of a scan's backward loop (equations in the module docstring).

    ``step(t, d_h_prime, m, dy_prev)`` at every step from T down to 1, then :meth:`grads`. ``saved`` is
    :meth:`TransitionForward.saved` of the forward pass.
    """

    def __init__(self, transition: Transition, saved: list[Tensor | None]) -> None:
        *self.u_bufs, h_prime_buf = saved
        self.weights, self.skip = transition.weights, transition.skip
        self.has_bias = [b is not None for b in transition.biases]
        self.h_prime = h_prime_buf if h_prime_buf is not None else self.u_bufs[-1]  # (T, B, R)
        steps = self.h_prime.shape[0]
        # phi'(u_k) of every step, which each step's delta z_k then replaces in place
        self.d_z_bufs = [_derivative(transition.activation, u) for u in self.u_bufs]  # (T, B, R) each
        self.d_zs = [per_step(buf, steps) for buf in self.d_z_bufs]

    def step(self, t: int, d_h_prime: Tensor, m: Tensor | None, dy_prev: Tensor | None) -> Tensor:
        """``dL/dy_{t-1} + m * delta u_0``, the gradient reaching h_{t-1} through the transition, from
        delta h'_{t-1} = delta a_t W_hh. Returns a new tensor the caller may add to in place."""
        d_u = d_h_prime
        L = len(self.weights)
        for k in range(L - 1, 0, -1):
            d_z = self.d_zs[k][t].mul_(d_u)  # delta z_k = delta u_k phi'(u_k)
            d_u = torch.mm(d_z, self.weights[k])  # delta u_{k-1} = delta z_k W_k
        d_z = self.d_zs[0][t].mul_(d_u)
        if not self.skip:
            return recurrent_grad(d_z, self.weights[0], m, dy_prev)  # delta u_0 = delta z_1 W_1, masked, + dL/dy
        d_u0 = torch.addmm(d_h_prime, d_z, self.weights[0])  # delta u_0 = delta z_1 W_1 + delta h'
        if m is not None:
            d_u0.mul_(m)
        if dy_prev is not None:
            d_u0.add_(dy_prev)
        return d_u0

    def recurrent_weight_grad(self, d_a: Tensor) -> Tensor:
        """The kernel's ``delta W_hh = sum_t delta a_t^T h'_{t-1}`` as (G*H, R), one matmul over the steps."""
        T, B, GH = d_a.shape
        R = self.h_prime.shape[-1]
        # computed transposed, MKL's fast layout (both operands read with the long T*B dimension contiguous)
        return torch.mm(self.h_prime.reshape(T * B, R).t(), d_a.reshape(T * B, GH)).t()

    def grads(self, h0: Tensor, ys: Tensor, m: Tensor | None, needs: tuple[bool, ...]) -> list[Tensor | None]:
        """delta W_1, delta b_1, delta W_2, ... (None where ``needs``, in the same order, is False).

        ``h0`` (B, R) and ``ys`` (T, B, R) are the kernel's initial state and outputs: u_0 = m h_{t-1} over the
        steps is h_0 then ys_1 .. ys_{T-1}, masked."""
        T, B, R = self.h_prime.shape
        grads: list[Tensor | None] = []
        for k, d_z in enumerate(self.d_z_bufs):
            need_w, need_b = needs[2 * k], needs[2 * k + 1]
            if not need_w:
                d_w = None
            elif k == 0:
                d_w = weight_grad_t(h0, ys, d_z, m).t()
            else:
                d_w = torch.mm(self.u_bufs[k - 1].reshape(T * B, R).t(), d_z.reshape(T * B, R)).t()
            d_b = d_z.sum((0, 1)) if need_b and self.has_bias[k] else None
            grads += [d_w, d_b]
        return grads


def _derivative(name: str, u: Tensor) -> Tensor:
    """phi'(z) from u = phi(z), a new tensor of u's shape."""
    if name == "tanh":
        d = torch.mul(u, u)
        return d.neg_().add_(1)  # 1 - u^2
    if name == "sigmoid":
        return torch.addcmul(u, u, u, value=-1)  # u (1 - u)
    return (u > 0).to(u.dtype)  # 1[u > 0]
