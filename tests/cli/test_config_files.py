"""TOML config files are read into the same options as YAML ones; overrides come after the file."""

from __future__ import annotations


import pytest

from rnnkit.cli.config_files import check_config_keys, toml_configs_as_json
from rnnkit.cli.main import build_parser, main


def test_toml_and_yaml_give_the_same_options(tmp_path):
    (tmp_path / "c.toml").write_text('data = "builtin:dialogue"\n[model]\nhidden_size = 48\ncell = "lstm"\n')
    (tmp_path / "c.yaml").write_text("data: builtin:dialogue\nmodel:\n  hidden_size: 48\n  cell: lstm\n")
    parser = build_parser()
    parsed = [
        parser.parse_args(toml_configs_as_json(["train", "seq2seq", "--config", str(tmp_path / f"c.{ext}"),
                                                "--run", "r", "--model.embedding_dim", "7"])).train.seq2seq
        for ext in ("toml", "yaml")
    ]
    for cfg in parsed:
        assert cfg.data == "builtin:dialogue" and cfg.model.hidden_size == 48 and cfg.model.cell == "lstm"
        assert cfg.model.embedding_dim == 7 and cfg.model.bidirectional is True  # task default kept
    assert "src_vocab_size" not in parsed[0].model  # set from the data


def test_toml_errors_name_the_file(tmp_path):
    (tmp_path / "bad.toml").write_text("[model\n")
    with pytest.raises(ValueError, match="bad.toml is not valid TOML"):
        toml_configs_as_json(["--config", str(tmp_path / "bad.toml")])
    assert toml_configs_as_json(["--config=x.yaml"]) == ["--config=x.yaml"]
    converted = toml_configs_as_json(["--prime", "a = 1"])  # only config files are converted
    assert converted == ["--prime", "a = 1"]


@pytest.mark.parametrize(("name", "text"), [
    ("c.yaml", "data: builtin:dialogue\nmodel:\n  hiden_size: 8\n"),
    ("c.toml", '[model]\nhiden_size = 8\n'),
])
def test_a_misspelled_config_key_names_the_file_and_the_real_key(capsys, tmp_path, name, text):
    (tmp_path / name).write_text(text)
    code = main(["train", "seq2seq", "--config", str(tmp_path / name), "--run", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"config file {tmp_path / name}: unknown key model.hiden_size (did you mean model.hidden_size" in err


def test_a_reader_mapping_in_a_config_is_one_known_key(tmp_path):
    (tmp_path / "c.yaml").write_text('task:\n  read: {"text_column": "body"}\n')
    check_config_keys(["--config", str(tmp_path / "c.yaml")], ["task.read", "model.hidden_size"])
