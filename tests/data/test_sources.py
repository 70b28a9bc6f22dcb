import pytest
import torch

from rnnkit.data.sources import BucketBatchSource, StreamBatchSource, epoch_generator


def _source(n=1000, batch_size=16, shuffle=True, seed=3, **kw):
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(1, 60, (n,), generator=g).tolist()
    return lengths, BucketBatchSource(lengths, lambda rows: rows, batch_size=batch_size, seed=seed,
                                      shuffle=shuffle, chunk_batches=8, **kw)


def test_every_example_exactly_once_per_epoch():
    lengths, src = _source()
    for epoch in range(3):
        rows = [r for b in src.batches(epoch) for r in b]
        assert sorted(rows) == list(range(len(lengths)))
        assert src.num_batches(epoch) == -(-len(lengths) // 16)


def test_bucketing_reduces_padding():
    lengths, src = _source()
    padded = sum(len(b) * max(lengths[r] for r in b) for b in src.batches(0))
    perm = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    random_batches = [perm[i : i + 16] for i in range(0, len(perm), 16)]
    unbucketed = sum(len(b) * max(lengths[r] for r in b) for b in random_batches)
    assert padded < 0.7 * unbucketed
    for b in src.batches(0):  # rows sorted by decreasing length
        assert [lengths[r] for r in b] == sorted((lengths[r] for r in b), reverse=True)


def test_deterministic_per_seed_and_epoch_and_independent_of_global_rng():
    _, a = _source(seed=3)
    _, b = _source(seed=3)
    _, c = _source(seed=4)
    torch.manual_seed(123)
    first = list(a.batches(1))
    torch.manual_seed(456)
    assert list(b.batches(1)) == first
    assert list(a.batches(2)) != first
    assert list(c.batches(1)) != first


@pytest.mark.parametrize("shuffle", [True, False])
def test_resume_at_start_equals_the_uninterrupted_epoch(shuffle):
    _, src = _source(shuffle=shuffle)
    full = list(src.batches(5))
    for k in (0, 1, 17, len(full) - 1, len(full)):
        assert list(src.batches(5, start=k)) == full[k:]
    with pytest.raises(ValueError, match="outside"):
        list(src.batches(5, start=len(full) + 1))


def test_evaluation_order_is_fixed_and_drop_last():
    lengths, src = _source(n=100, shuffle=False)
    assert list(src.batches(0)) == list(src.batches(7))
    _, src = _source(n=100, drop_last=True)
    assert src.num_batches(0) == 100 // 16
    assert all(len(b) == 16 for b in src.batches(0))


def test_epoch_generator_differs_across_seed_and_epoch():
    draws = {torch.randint(0, 2**30, (1,), generator=epoch_generator(s, e)).item() for s in range(3) for e in range(3)}
    assert len(draws) == 9


def test_stream_batches_continue_each_other():
    ids = torch.arange(1000)
    src = StreamBatchSource(ids, batch_size=4, bptt=7)
    batches = list(src.batches(0))
    assert len(batches) == src.num_batches(0) == -(-((1000 - 1) // 4) // 7)
    for b in batches:
        assert torch.equal(b.targets, b.tokens + 1)  # target is the next token
        assert b.lengths.tolist() == [b.tokens.shape[1]] * 4
    for prev, cur in zip(batches, batches[1:]):
        assert torch.equal(cur.tokens[:, 0], prev.tokens[:, -1] + 1)  # row b continues row b
        assert torch.equal(cur.tokens[:, 0], prev.targets[:, -1])
    streams = torch.cat([b.tokens for b in batches], dim=1)  # (B, L)
    assert torch.equal(streams.reshape(-1), ids[: streams.numel()])
    resumed = list(src.batches(0, start=3))
    assert len(resumed) == len(batches) - 3
    assert all(torch.equal(x.tokens, y.tokens) for x, y in zip(resumed, batches[3:]))


def test_stream_too_short():
    with pytest.raises(ValueError, match="too short"):
        StreamBatchSource(torch.arange(4), batch_size=4, bptt=2)
