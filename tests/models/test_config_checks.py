from dataclasses import dataclass

import pytest

from rnnkit.models.config_checks import check_padding_idx, check_positive_or_none


@dataclass
class Vocabularies:
    src_vocab_size: int | None
    tgt_vocab_size: int | None
    padding_idx: int = 0


def test_positive_or_none_skips_unset_fields_only():
    check_positive_or_none(Vocabularies(None, 3), "src_vocab_size", "tgt_vocab_size")
    with pytest.raises(ValueError, match=r"Vocabularies\.tgt_vocab_size must be a positive int, got 0"):
        check_positive_or_none(Vocabularies(None, 0), "src_vocab_size", "tgt_vocab_size")


def test_padding_idx_is_a_row_of_every_vocabulary():
    check_padding_idx(Vocabularies(5, None, padding_idx=4), "src_vocab_size", "tgt_vocab_size")
    with pytest.raises(ValueError, match=r"padding_idx must be in \[0, tgt_vocab_size=3\), got 4"):
        check_padding_idx(Vocabularies(5, 3, padding_idx=4), "src_vocab_size", "tgt_vocab_size")
    with pytest.raises(ValueError, match=r"got -1"):
        check_padding_idx(Vocabularies(5, 3, padding_idx=-1), "src_vocab_size")
