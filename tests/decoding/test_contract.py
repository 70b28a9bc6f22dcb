import pytest
import torch

from rnnkit.decoding.contract import start_tokens
from rnnkit.decoding.greedy import greedy


class LayerFirstState:
    """A model whose state is (layers, N, H), so dim 0 is not the batch."""

    def __init__(self, model):
        self.model = model

    def step(self, tokens, state):
        log_probs, h = self.model.step(tokens, state[0])
        return log_probs, h.unsqueeze(0)

    def reorder_state(self, state, index):
        return state.index_select(1, index)


def test_batch_size_from_state_dim0_and_from_argument(tiny_model):
    assert start_tokens(tiny_model, tiny_model.start(3), 0, None).shape == (3,)
    assert start_tokens(tiny_model, None, 2, 4).tolist() == [2, 2, 2, 2]


def test_wrong_guess_fails_and_batch_size_fixes_it(tiny_model):
    model = LayerFirstState(tiny_model)
    state = tiny_model.start(3).unsqueeze(0)  # (1, 3, H)
    with pytest.raises((RuntimeError, ValueError)):
        greedy(model, state, 0, 1, 5)
    out = greedy(model, state, 0, 1, 5, batch_size=3)
    assert len(out.tokens) == 3


def test_object_without_step_is_rejected():
    with pytest.raises(TypeError, match="does not implement step"):
        greedy(object(), torch.zeros(1, 1), 0, 1, 3)


def test_step_output_of_wrong_size_is_reported():
    class Shrinks:
        def step(self, tokens, state):
            return torch.zeros(1, 4), state

        def reorder_state(self, state, index):
            return state

    with pytest.raises(ValueError, match="batch_size="):
        greedy(Shrinks(), torch.zeros(3, 2), 0, 1, 5)
