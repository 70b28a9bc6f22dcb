import pytest

from rnnkit.data.builtin.shakespeare import load_shakespeare, play_files


def test_37_plays_about_5m_characters_split_90_10_by_position():
    files = play_files()
    assert len(files) == 37 and not any("sonnets" in f.name for f in files)
    d = load_shakespeare()
    train, valid = d["train"], d["valid"]
    n = len(train) + len(valid)
    assert d.summary["characters"] == n
    assert 4_500_000 < n < 5_200_000
    assert abs(len(valid) / n - 0.1) < 1e-6
    assert train.startswith("ALL'S WELL THAT ENDS WELL")  # the first play in file-name order
    assert valid.rstrip().endswith("[Exeunt.]")
    assert "\r" not in train and " \n" not in train


def test_poems_on_request_and_a_local_file(tmp_path):
    assert len(play_files(include_poems=True)) == 42
    f = tmp_path / "input.txt"
    f.write_text("First Citizen:\nBefore we proceed any further, hear me speak.   \n" * 10, encoding="utf-8")
    d = load_shakespeare(f)
    assert d.summary["files"] == 1 and d.summary["trailing_spaces_removed"] == 10
    assert d["train"] + d["valid"] == "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 10
    with pytest.raises(ValueError, match="valid_fraction"):
        load_shakespeare(valid_fraction=1.0)
