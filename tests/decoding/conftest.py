"""Small models implementing the step contract, for the decoding tests."""

import pytest
import torch
from torch import nn


class TinyRecurrentModel(nn.Module):
    """A random GRU language model: state (N, H), one row per hypothesis."""

    def __init__(self, vocab: int = 7, hidden: int = 8, sharpness: float = 3.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.cell = nn.GRUCell(hidden, hidden)
        self.out = nn.Linear(hidden, vocab)
        # Sharper random distributions give sequences that end within a few steps.
        with torch.no_grad():
            self.out.weight.mul_(sharpness)

    def start(self, batch_size: int) -> torch.Tensor:
        return torch.randn(batch_size, self.cell.hidden_size)

    def step(self, tokens, state):
        state = self.cell(self.embed(tokens), state)
        return torch.log_softmax(self.out(state), -1), state

    def reorder_state(self, state, index):
        return state.index_select(0, index)

    @torch.no_grad()
    def sequence_log_prob(self, state_row, bos, tokens, eos=None):
        """Log-probability of tokens (+ EOS) from a single-row state, by feeding them one at a time."""
        total, previous = 0.0, bos
        for token in list(tokens) + ([] if eos is None else [eos]):
            log_probs, state_row = self.step(torch.tensor([previous]), state_row)
            total += float(log_probs[0, token])
            previous = token
        return total


class MarkovChain:
    """A fixed transition table: p(next | previous token). State is a dummy (N, 1) tensor."""

    def __init__(self, table: torch.Tensor):
        self.log_table = table.log()

    def step(self, tokens, state):
        return self.log_table[tokens], state

    def reorder_state(self, state, index):
        return state.index_select(0, index)


@pytest.fixture
def tiny_model():
    return TinyRecurrentModel().eval()


@pytest.fixture
def make_chain():
    return MarkovChain


@pytest.fixture
def garden_path_chain():
    # Tokens: 0 = BOS, 1 = EOS, 2 = a, 3 = b. From BOS, a is likelier (0.6) than b (0.4); but after a
    # every continuation is uncertain, while b is followed by EOS for sure. Greedy: a a ... ; best: b EOS.
    eps = 1e-9
    table = torch.tensor(
        [
            [eps, eps, 0.6, 0.4],
            [0.25, 0.25, 0.25, 0.25],
            [eps, 0.3, 0.35, 0.35],
            [eps, 1.0, eps, eps],
        ]
    )
    return MarkovChain(table / table.sum(1, keepdim=True))


@pytest.fixture
def pruned_greedy_chain():
    # Tokens: 0 BOS, 1 EOS, 2 a, 3 b, 4 c, 5 x, 6 y, 7 z, 8 u. Greedy: a (0.4) x (0.34) EOS (1), p = 0.136.
    # A beam of 2 keeps a and b; then b y and b z (0.1575 each) beat every child of a (at most 0.136), so
    # greedy's prefix is pruned, and b's beams end no better than b y u EOS (0.35 * 0.45 * 0.5 = 0.079).
    eps = 1e-9
    table = torch.full((9, 9), eps)
    table[0, 2], table[0, 3], table[0, 4] = 0.4, 0.35, 0.25  # BOS -> a, b, c
    table[1] = 1.0 / 9  # after EOS: never used
    table[2, 5], table[2, 4], table[2, 8] = 0.34, 0.33, 0.33  # a -> x, c, u
    table[3, 6], table[3, 7], table[3, 1] = 0.45, 0.45, 0.1  # b -> y, z, EOS
    table[4, 1] = table[5, 1] = 1.0  # c -> EOS, x -> EOS
    table[6, 8] = table[7, 8] = 1.0  # y -> u, z -> u
    table[8, 1], table[8, 8] = 0.5, 0.5  # u -> EOS, u
    return MarkovChain(table / table.sum(1, keepdim=True))


@pytest.fixture
def make_tiny_model():
    def make(seed: int, **kwargs) -> TinyRecurrentModel:
        torch.manual_seed(seed)
        return TinyRecurrentModel(**kwargs).eval()

    return make
