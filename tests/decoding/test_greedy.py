import math

import torch

from rnnkit.decoding.greedy import greedy


def test_greedy_follows_the_most_probable_token(garden_path_chain):
    out = greedy(garden_path_chain, torch.zeros(1, 1), bos_id=0, eos_id=1, max_len=4)
    # BOS -> a (0.6) -> a (0.35, ties broken to the first) -> a -> a, no EOS within 4 steps.
    assert out.tokens == [[2, 2, 2, 2]]
    assert math.isclose(float(out.scores[0]), math.log(0.6) + 3 * math.log(0.35), rel_tol=1e-5)


def test_greedy_output_stops_before_eos_and_scores_are_model_log_probs(tiny_model):
    state = tiny_model.start(5)
    out = greedy(tiny_model, state, bos_id=0, eos_id=1, max_len=12)
    for row, tokens in enumerate(out.tokens):
        assert 1 not in tokens and len(tokens) <= 12
        ended = len(tokens) < 12
        expected = tiny_model.sequence_log_prob(state[row : row + 1], 0, tokens, 1 if ended else None)
        assert math.isclose(float(out.scores[row]), expected, rel_tol=1e-4, abs_tol=1e-5)
    # Greedy choice: each token is the argmax after its prefix.
    tokens = out.tokens[0]
    h = state[:1]
    previous = 0
    for token in tokens:
        log_probs, h = tiny_model.step(torch.tensor([previous]), h)
        assert int(log_probs.argmax()) == token
        previous = token


def test_bos_given_per_row(tiny_model):
    state = tiny_model.start(2)
    together = greedy(tiny_model, state, bos_id=torch.tensor([0, 3]), eos_id=1, max_len=6)
    second = greedy(tiny_model, state[1:], bos_id=3, eos_id=1, max_len=6)
    assert together.tokens[1] == second.tokens[0]
