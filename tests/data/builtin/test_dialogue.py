import pytest

from rnnkit.data.builtin.dialogue import load_dialogue
from rnnkit.data.errors import DataFormatError


def test_pairs_split_by_prompt():
    d = load_dialogue()
    assert d.summary["pairs"] == sum(d.sizes().values()) > 2000
    prompts = {s: {e.src for e in d[s]} for s in d.splits}
    assert not (prompts["train"] & prompts["test"]) and not (prompts["train"] & prompts["valid"])
    assert d.summary["malformed_conversations_skipped"] == 1  # trivia.yml, as shipped
    refs = d.references("train")
    assert max(len(v) for v in refs.values()) > 1


def test_local_file_turns_to_pairs_and_bad_yaml(tmp_path):
    (tmp_path / "mine.yml").write_text(
        "categories: [me]\nconversations:\n- - Hello\n  - Hi there!\n  - How are you?\n- - Bye\n  - See you.\n",
        encoding="utf-8")
    d = load_dialogue(tmp_path / "mine.yml", valid=0.0, test=0.0)
    assert [(" ".join(e.src), " ".join(e.tgt)) for e in d["train"]] == [
        ("hello", "hi there !"), ("hi there !", "how are you ?"), ("bye", "see you ."),
    ]
    (tmp_path / "bad.yml").write_text("conversations:\n- - a\n  - [b\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.yml:\d+: not valid YAML"):
        load_dialogue(tmp_path / "bad.yml")
