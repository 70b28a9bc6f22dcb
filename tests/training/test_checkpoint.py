import os
import pickle

import pytest
import torch

from rnnkit.training import CheckpointError, TrainConfig, Trainer, load_checkpoint
from rnnkit.training import checkpoint as ckpt


def _run(toys, run_dir, **overrides):
    cfg = TrainConfig(**{"epochs": 2, "checkpoint_every": 2, "keep_last": 2, **overrides})
    trainer = Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(n=3), cfg, run_dir=run_dir,
                      extras={"vocab": {"<pad>": 0, "a": 1}})
    return trainer, trainer.fit()


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_contents_and_keep_last(toys, tmp_path):
    trainer, result = _run(toys, tmp_path)
    root = tmp_path / "checkpoints"
    # Saved at steps 2, 3 (epoch end), 4, 6 (epoch end); the last two are kept.
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-00000004", "step-00000006"]
    assert result.checkpoint == root / "step-00000006"
    loaded = load_checkpoint(tmp_path)
    assert {p.suffix for p in loaded.path.iterdir()} == {".json", ".safetensors"}
    assert loaded.extras == {"vocab": {"<pad>": 0, "a": 1}}
    assert loaded.config == trainer.config
    assert (loaded.trainer["epoch"], loaded.trainer["batch"], loaded.trainer["step"]) == (2, 0, 6)
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(loaded.model[name], value)


def test_a_failed_write_leaves_the_previous_checkpoint_intact(toys, tmp_path, monkeypatch):
    _run(toys, tmp_path)
    root = tmp_path / "checkpoints"
    before = _snapshot(root / "step-00000006")
    real_save = ckpt.save_file

    def dying_writer(tensors, path):
        real_save(tensors, path)
        if path.endswith("model.safetensors"):
            with open(path, "r+b") as f:  # half the weights on disk, then the process "dies"
                f.truncate(os.path.getsize(path) // 2)
            raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_file", dying_writer)
    cfg = TrainConfig(epochs=3, checkpoint_every=2, keep_last=2)
    trainer = Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(n=3), cfg, run_dir=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(resume=True)  # dies writing the checkpoint of step 8
    monkeypatch.setattr(ckpt, "save_file", real_save)
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-00000004", "step-00000006"]
    assert ckpt.read_pointer(root, "latest") == "step-00000006"
    assert _snapshot(root / "step-00000006") == before
    loaded = load_checkpoint(root)
    assert loaded.trainer["step"] == 6
    assert not torch.equal(loaded.model["out.bias"], trainer.model.out.bias)  # the model had moved on


def test_a_temporary_folder_left_by_a_kill_is_ignored_and_removed(toys, tmp_path):
    _run(toys, tmp_path, epochs=1)
    root = tmp_path / "checkpoints"
    (root / ".tmp-step-00000009").mkdir()
    (root / ".tmp-step-00000009" / "model.safetensors").write_bytes(b"partial")
    assert load_checkpoint(root).trainer["step"] == 3
    ckpt.prune(root, keep_last=2)
    assert not (root / ".tmp-step-00000009").exists()


def test_loading_never_unpickles(toys, tmp_path, monkeypatch):
    _run(toys, tmp_path)

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    for module, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")]:
        monkeypatch.setattr(module, name, forbidden)
    # A full resume (weights, optimizer, generators, carry) goes through JSON and safetensors only.
    cfg = TrainConfig(epochs=3, checkpoint_every=2, keep_last=2)
    result = Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(n=3), cfg, run_dir=tmp_path,
                     extras={"vocab": {"<pad>": 0, "a": 1}}).fit(resume=True)
    assert result.step == 9


def test_errors_name_the_missing_or_damaged_file(toys, tmp_path):
    with pytest.raises(CheckpointError, match="the path does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="no manifest.json"):
        load_checkpoint(tmp_path)
    _run(toys, tmp_path)
    folder = tmp_path / "checkpoints" / "step-00000006"
    model_file = folder / "model.safetensors"
    data = bytearray(model_file.read_bytes())
    data[-1] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model.safetensors is damaged"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match=r"model.safetensors is not a readable safetensors file"):
        model_file.write_bytes(b"\x00" * 5)
        load_checkpoint(tmp_path, verify=False)
    (folder / "trainer.json").unlink()
    with pytest.raises(CheckpointError, match=r"trainer.json is missing"):
        load_checkpoint(tmp_path, verify=False)
    (tmp_path / "checkpoints" / "latest").write_text("step-00000042\n")
    with pytest.raises(CheckpointError, match=r"points to 'step-00000042'"):
        load_checkpoint(tmp_path)
