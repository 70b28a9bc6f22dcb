import math

import pytest
import torch

from rnnkit.metrics import (
    accuracy,
    character_error_rate,
    edit_distance,
    error_rate,
    perplexity,
    phoneme_error_rate,
    sequence_error_rate,
    word_error_rate,
)


def test_edit_distance_of_known_strings():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "abc") == 0
    assert edit_distance(["K", "AE1", "T"], ["K", "AH0", "T", "S"]) == 2


def test_character_and_word_error_rates():
    # kitten->sitting: 3 edits over 7 reference characters; "abc"->"abd": 1 over 3.
    assert character_error_rate(["kitten", "abd"], ["sitting", "abc"]) == pytest.approx(4 / 10)
    # one substitution (sat->sit) and one deletion (mat) over 6 reference words
    assert word_error_rate(["the cat sit on the"], ["the cat sat on the mat"]) == pytest.approx(2 / 6)


def test_phoneme_error_rate_with_multiple_references_uses_closest():
    hyp = [["T", "AH0", "M", "EY1", "T", "OW2"]]
    refs = [[["T", "AH0", "M", "AA1", "T", "OW2"], ["T", "AH0", "M", "EY1", "T", "OW2"]]]
    assert phoneme_error_rate(hyp, refs, multi_reference=True) == 0.0
    assert phoneme_error_rate(hyp, [refs[0][0]]) == pytest.approx(1 / 6)
    assert error_rate(hyp, [refs[0][0]]) == phoneme_error_rate(hyp, [refs[0][0]])


def test_sequence_error_rate_counts_sequences_not_exactly_right():
    hyps = [["A"], ["B", "C"], ["D"]]
    assert sequence_error_rate(hyps, [["A"], ["B"], ["D"]]) == pytest.approx(1 / 3)
    assert sequence_error_rate(hyps, [[["X"], ["A"]], [["B"]], [["E"]]], multi_reference=True) == pytest.approx(2 / 3)


def test_accuracy_ignores_padding():
    logits = torch.tensor([[[0.0, 1.0], [1.0, 0.0], [0.0, 9.0]]])  # predictions 1, 0, 1
    targets = torch.tensor([[1, 1, 0]])
    assert accuracy(logits, targets, pad_id=0) == pytest.approx(1 / 2)
    assert accuracy(logits, targets) == pytest.approx(1 / 3)


def test_perplexity_of_uniform_model_is_vocabulary_size():
    assert perplexity(math.log(7.0)) == pytest.approx(7.0)


def test_mismatched_counts_are_reported():
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        error_rate(["a", "b"], ["a"])
