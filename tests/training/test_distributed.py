import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rnnkit.training import TrainConfig, Trainer
from rnnkit.training.distributed import DistributedEnv, detect, shard


def test_detect_reads_the_torchrun_environment():
    assert detect({}) == DistributedEnv(0, 1, 0)
    assert detect({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == DistributedEnv(3, 4, 1)
    with pytest.raises(ValueError, match="need 0 <= RANK < WORLD_SIZE"):
        detect({"RANK": "2", "WORLD_SIZE": "2"})


def test_each_rank_takes_every_world_size_th_batch():
    env = DistributedEnv(rank=1, world_size=3)
    # 8 batches: 2 steps of 3; rank 1 takes 1 and 4, never 7 (a third step would leave ranks uneven).
    assert [i for i, _ in shard(iter(range(8)), 0, 2, env)] == [1, 4]
    assert [b for _, b in shard(iter(range(3, 8)), 3, 2, env)] == [4]  # resumed at global index 3


class _Merged:
    """The one-process equivalent of the two ranks: batch i joins the batches 2i and 2i + 1 the ranks take."""

    def __init__(self, source):
        self.source = source

    def num_batches(self, epoch):
        return self.source.num_batches(epoch) // 2

    def batches(self, epoch, start=0):
        parts = list(self.source.batches(epoch, 2 * start))
        for a, b in zip(parts[::2], parts[1::2]):
            yield type(a)(torch.cat([a.x, b.x]), torch.cat([a.y, b.y]))


def test_ddp_on_two_cpu_processes(toys, tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(worker), str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    def weights(name):
        return [load_file(tmp_path / f"{name}-rank{r}.safetensors") for r in (0, 1)]

    # A: both ranks end with the same weights, equal to one process training on both ranks' batches.
    a0, a1 = weights("A")
    assert all(torch.equal(a0[k], a1[k]) for k in a0)
    model = toys.make(seed=10, dropout=0.0)
    cfg = TrainConfig(epochs=2, lr=0.05, lr_schedule="cosine", warmup_steps=1, checkpoint_every=2)
    Trainer(model, toys.SeriesTask(), _Merged(toys.SeriesSource(n=6)), cfg).fit()
    for k, v in model.state_dict().items():
        assert torch.allclose(a0[k], v, rtol=0, atol=1e-12), k

    metrics = [json.loads((tmp_path / f"A-metrics-rank{r}.json").read_text()) for r in (0, 1)]
    assert metrics[0] == metrics[1]
    one_process = Trainer(model, toys.SeriesTask(), toys.SeriesSource(n=1), cfg)
    assert metrics[0][1] == pytest.approx(one_process.evaluate(toys.SeriesSource(n=1, seed=2)), rel=1e-12)

    # B: with dropout, killed and resumed on two processes equals the uninterrupted two-process run.
    full, resumed = weights("B-full"), weights("B-resumed")
    assert all(torch.equal(full[0][k], full[1][k]) for k in full[0])
    for r in (0, 1):
        assert all(torch.equal(full[r][k], resumed[r][k]) for k in full[r])

    # Only rank 0 logs (one row per step) and checkpoints hold each rank's own generator states.
    with open(tmp_path / "A" / "log.csv") as f:
        assert [row["step"] for row in csv.DictReader(f)] == [str(s) for s in range(1, 7)]
    latest = tmp_path / "A" / "checkpoints" / (tmp_path / "A" / "checkpoints" / "latest").read_text().strip()
    assert (latest / "rank-0.json").exists() and (latest / "rank-1.json").exists()
