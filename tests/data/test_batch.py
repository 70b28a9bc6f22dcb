import torch

from rnnkit.data.batch import ClassificationBatch, Seq2SeqBatch, length_mask


def test_length_mask():
    assert length_mask(torch.tensor([2, 0, 3]), 3).tolist() == [
        [True, True, False], [False, False, False], [True, True, True]
    ]


def test_to_moves_every_tensor_and_keeps_values():
    b = ClassificationBatch(torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 1]), torch.tensor([0, 1]),
                            torch.tensor([5, 6]))
    m = b.to("meta")
    assert all(getattr(m, f).device.type == "meta" for f in ("tokens", "lengths", "labels", "index"))
    c = b.to("cpu")
    assert torch.equal(c.tokens, b.tokens) and len(c) == 2


def test_seq2seq_masks_follow_lengths():
    z = torch.zeros(2, 4, dtype=torch.long)
    b = Seq2SeqBatch(z, torch.tensor([4, 2]), z[:, :3], z[:, :3], torch.tensor([1, 3]), torch.tensor([0, 1]))
    assert b.src_mask.sum(1).tolist() == [4, 2]
    assert b.tgt_mask.sum(1).tolist() == [1, 3]
