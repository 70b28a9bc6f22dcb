import shutil
from collections import Counter

from rnnkit.data.builtin.japanese_vowels import load_japanese_vowels
from rnnkit.data.builtin.locate import package_data


def test_archive_split_12_channels_9_speakers():
    d = load_japanese_vowels()
    assert d.sizes() == {"train": 270, "test": 370}
    assert d.labels == tuple(str(i) for i in range(1, 10))
    assert Counter(e.label for e in d["train"]) == {str(i): 30 for i in range(1, 10)}
    lengths = [e.values.shape[0] for s in d.splits.values() for e in s]
    assert min(lengths) == 7 and max(lengths) == 29
    assert {e.values.shape[1] for s in d.splits.values() for e in s} == {12}
    assert d["train"][0].values[0, 0] == __import__("numpy").float32(1.860936)  # first value of the file


def test_validation_taken_per_speaker_from_train_and_local_copy(tmp_path):
    d = load_japanese_vowels(valid=3)
    assert d.sizes() == {"train": 243, "valid": 27, "test": 370}
    assert Counter(e.label for e in d["valid"]) == {str(i): 3 for i in range(1, 10)}
    src = package_data("aeon", "datasets", "data", "JapaneseVowels", pip="aeon")
    for name in ("JapaneseVowels_TRAIN.ts", "JapaneseVowels_TEST.ts"):
        shutil.copy(src / name, tmp_path / name)
    assert load_japanese_vowels(tmp_path).sizes() == {"train": 270, "test": 370}
