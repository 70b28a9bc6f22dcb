"""Recurrent states: a ``Tensor`` (RNN, GRU) or a named tuple of tensors (``LSTMState(h, c)``).

A layer treats a state as a small tree whose leaves are tensors of shape ``(B, ·)``; the helpers here
apply a function leaf by leaf so that stacking, masking and slicing work for any cell's state.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

from torch import Tensor


class LSTMState(NamedTuple):
    """The two parts of an LSTM's state, in ``torch.nn.LSTM``'s order ``(h, c)``."""

    h: Tensor  # (B, H), or (B, P) with a projection of size P
    c: Tensor  # (B, H) the memory cell


State = Union[Tensor, LSTMState, tuple[Any, ...]]


def map_state(fn: Callable[..., Tensor], *states: State) -> State:
    """``fn`` applied leaf by leaf to states of the same structure, rebuilt in that structure."""
    first = states[0]
    if isinstance(first, Tensor):
        return fn(*states)
    if isinstance(first, (tuple, list)):
        parts = [map_state(fn, *leaves) for leaves in zip(*states)]
        if hasattr(first, "_fields"):  # a named tuple takes its fields as positional arguments
            return type(first)(*parts)
        return type(first)(parts)
    raise TypeError(f"a state is a Tensor or a (named) tuple of Tensors, got {type(first).__name__}")


def state_leaves(state: State) -> list[Tensor]:
    """The tensors of a state, depth first (``[h, c]`` for an ``LSTMState``)."""
    if isinstance(state, Tensor):
        return [state]
    if isinstance(state, (tuple, list)):
        return [leaf for part in state for leaf in state_leaves(part)]
    raise TypeError(f"a state is a Tensor or a (named) tuple of Tensors, got {type(state).__name__}")


def unflatten_state(like: State, leaves: list[Tensor]) -> State:
    """The inverse of :func:`state_leaves`: ``leaves`` put back in the structure of ``like``."""
    it = iter(leaves)
    return map_state(lambda _: next(it), like)
