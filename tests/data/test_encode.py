import numpy as np
import pytest
import torch

from rnnkit.data.encode import (
    channel_stats,
    classification_source,
    document_source,
    generation_source,
    seq2seq_source,
    series_source,
    stream_source,
    tagging_source,
)
from rnnkit.data.examples import (
    ClassificationExample,
    DocumentExample,
    GenerationExample,
    Seq2SeqExample,
    SeriesExample,
    TaggingExample,
)
from rnnkit.data.vocab import Vocab


def _all(src):
    return list(src.batches(0))


def test_classification_padding_lengths_mask_labels():
    ex = [ClassificationExample(tuple("ab" * k), "x" if k % 2 else "y") for k in range(1, 8)]
    vocab, labels = Vocab.build(e.tokens for e in ex), Vocab.for_labels(e.label for e in ex)
    seen = []
    for b in _all(classification_source(ex, vocab, labels, batch_size=3, seed=0)):
        for row, i in enumerate(b.index.tolist()):
            n = len(ex[i].tokens)
            assert b.lengths[row] == n
            assert b.tokens[row, :n].tolist() == vocab.encode(ex[i].tokens)
            assert (b.tokens[row, n:] == vocab.pad_id).all()
            assert b.mask[row].sum() == n
            assert labels.symbols[b.labels[row]] == ex[i].label
            seen.append(i)
    assert sorted(seen) == list(range(len(ex)))


def test_seq2seq_teacher_forcing_fields():
    ex = [Seq2SeqExample(tuple("cat"), ("K", "AE", "T")), Seq2SeqExample(tuple("a"), ("AH",))]
    sv, tv = Vocab.build(e.src for e in ex), Vocab.build(e.tgt for e in ex)
    (b,) = _all(seq2seq_source(ex, sv, tv, batch_size=2, shuffle=False))
    row = b.index.tolist().index(0)
    assert b.tgt_in[row].tolist() == [tv.bos_id, *tv.encode(["K", "AE", "T"])]
    assert b.tgt_out[row].tolist() == [*tv.encode(["K", "AE", "T"]), tv.eos_id]
    other = 1 - row
    assert b.tgt_lengths.tolist()[other] == 2 and b.src_lengths.tolist()[other] == 1
    assert b.tgt_in[other, 2:].eq(0).all() and b.tgt_out[other].tolist() == [tv.id("AH"), tv.eos_id, 0, 0]
    assert b.src_mask.sum() == 4 and b.tgt_mask.sum() == 6


def test_tagging_and_length_mismatch():
    ex = [TaggingExample(("EU", "rejects"), ("B-ORG", "O")), TaggingExample(("Peter",), ("B-PER",))]
    tv = Vocab.build((e.tags for e in ex), specials=("<pad>",))
    (b,) = _all(tagging_source(ex, Vocab.build(e.tokens for e in ex), tv, batch_size=2, shuffle=False))
    assert b.tags.tolist() == [tv.encode(["B-ORG", "O"]), [tv.id("B-PER"), 0]]
    with pytest.raises(ValueError, match="2 tokens but 1 tags"):
        tagging_source([TaggingExample(("a", "b"), ("O",))], Vocab.build([["a"]]), tv, batch_size=1)


def test_series_padding_and_standardization():
    rng = np.random.default_rng(0)
    ex = [SeriesExample(rng.normal(3.0, 2.0, (t, 4)).astype(np.float32), str(t % 2)) for t in (5, 9, 2)]
    mean, std = channel_stats(ex)
    (b,) = _all(series_source(ex, Vocab.for_labels(["0", "1"]), batch_size=3, shuffle=False, mean=mean, std=std))
    assert b.series.shape == (3, 9, 4) and b.series.dtype == torch.float32
    assert b.lengths.tolist() == [9, 5, 2]
    real = b.series[b.mask]  # (16, 4)
    assert torch.allclose(real.mean(0), torch.zeros(4), atol=1e-5)
    assert b.series[~b.mask].eq(0).all()


def test_generation_batch():
    ex = [GenerationExample("hamlet", ("to", "be")), GenerationExample("lear", ("nothing",))]
    cv, tv = Vocab.for_labels(["hamlet", "lear"]), Vocab.build(e.tokens for e in ex)
    (b,) = _all(generation_source(ex, cv, tv, batch_size=2, shuffle=False))
    assert b.condition.tolist() == [0, 1]
    assert b.tgt_in[0].tolist() == [tv.bos_id, tv.id("to"), tv.id("be")]
    assert b.tgt_lengths.tolist() == [3, 2]


def test_documents_three_levels_of_padding_and_truncation():
    ex = [
        DocumentExample((("a", "b", "c"), ("d",)), "x"),
        DocumentExample((("a",), ("b", "b"), ("c",), ("d", "a")), "y"),
    ]
    v = Vocab.build(w for e in ex for w in e.sentences)
    (b,) = _all(document_source(ex, v, Vocab.for_labels("xy"), batch_size=2, shuffle=False))
    assert b.docs.shape == (2, 4, 3)
    r0 = b.index.tolist().index(0)
    assert b.sentence_counts[r0] == 2 and b.word_counts[r0].tolist() == [3, 1, 0, 0]
    assert b.docs[r0, 0].tolist() == v.encode(["a", "b", "c"])
    assert b.word_mask.sum() == 4 + 6 and b.sentence_mask.sum() == 6
    (t,) = _all(document_source(ex, v, Vocab.for_labels("xy"), batch_size=2, shuffle=False,
                                max_sentences=2, max_words=2))
    assert t.docs.shape == (2, 2, 2)


def test_stream_source_from_text():
    text = "to be or not to be " * 20
    v = Vocab.build([text])
    src = stream_source(list(text), v, batch_size=2, bptt=5)
    b = next(src.batches(0))
    assert v.decode(b.tokens[0].tolist()) == list(text[:5])
    assert v.decode(b.targets[0].tolist()) == list(text[1:6])


def test_empty_sequence_is_an_error():
    with pytest.raises(ValueError, match="example 1 has an empty"):
        classification_source([ClassificationExample(("a",), "x"), ClassificationExample((), "x")],
                              Vocab.build([["a"]]), Vocab.for_labels(["x"]), batch_size=2)
