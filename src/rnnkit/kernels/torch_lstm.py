"""PyTorch's own fused LSTM operator (``torch.lstm``), the one entry point rnnkit calls it through.

For the plain LSTM equations (no peepholes, no layer norm, no keep masks, no recurrent mask) this
operator is the fastest implementation on a CPU: in float32 and bfloat16 it is oneDNN's LSTM primitive,
which runs every step of a layer in one call, with no per-step Python or operator dispatch. rnnkit's
own LSTM kernel (:mod:`rnnkit.kernels.lstm`) measured 1.36x its time in batch-64 inference and 1.58x
at batch 1, where such per-step overhead is most of a step. The ``LSTM`` drop-in and
``LSTMCell.scan`` both use it in exactly that case, through :func:`torch_lstm`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
from torch import Tensor


def torch_lstm(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    weights: Sequence[Tensor],
    *,
    bias: bool,
    num_layers: int = 1,
    dropout: float = 0.0,
    training: bool = False,
    bidirectional: bool = False,
    batch_sizes: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Run ``torch.lstm`` over a time-major sequence; returns ``(output, h_n, c_n)``.

    Args:
        x: (T, B, I) input, or with ``batch_sizes`` the data of a ``PackedSequence`` (sum of lengths, I).
        h0: (L * D, B, P or H) initial hidden state, in the packed batch order for packed input.
        c0: (L * D, B, H) initial cell state.
        weights: ``torch.nn.LSTM``'s flat parameters, per layer and direction ``weight_ih, weight_hh``,
            then ``bias_ih, bias_hh`` if ``bias``, then ``weight_hr`` with a projection (which the operator
            recognises by ``h0`` being narrower than ``c0``).
        bias: whether ``weights`` hold the biases.
        num_layers, dropout, training, bidirectional: as ``torch.nn.LSTM`` (dropout between layers,
            applied only when ``training``).
        batch_sizes: the ``PackedSequence``'s batch sizes, or None for a padded (T, B, I) input.

    Differentiable in ``x``, ``h0``, ``c0`` and every weight (autograd through the operator's own backward).
    With a projection the operator runs its own per-step implementation instead of oneDNN's primitive,
    which lacks projections; its warning saying so is silenced, as it asks nothing of the caller.
    """
    weights = list(weights)
    if h0.shape[-1] == c0.shape[-1]:  # no projection: no warning to silence (catching costs ~10 us a call)
        return _call(x, h0, c0, weights, bias, num_layers, dropout, training, bidirectional, batch_sizes)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NO_ONEDNN_PROJECTION)
        return _call(x, h0, c0, weights, bias, num_layers, dropout, training, bidirectional, batch_sizes)


def _call(x, h0, c0, weights, bias, num_layers, dropout, training, bidirectional, batch_sizes):
    """``torch.lstm`` in its padded or its packed form."""
    if batch_sizes is None:
        return torch.lstm(x, (h0, c0), weights, bias, num_layers, dropout, training, bidirectional, False)
    return torch.lstm(x, batch_sizes, (h0, c0), weights, bias, num_layers, dropout, training, bidirectional)


_NO_ONEDNN_PROJECTION = "LSTM with projections is not supported with oneDNN"
