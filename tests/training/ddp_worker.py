"""Run by test_distributed.py under `torchrun --nproc_per_node 2`: trains the toys with DDP (gloo) and
writes each process's final weights to the folder given as the first argument.

A: no dropout, truncated BPTT, cosine schedule; the test compares both ranks and a one-process run, and the
   validation metrics of both ranks.
B: dropout (each rank its own random stream); killed during step 3, resumed, compared with B uninterrupted.
"""

import json
import os
import sys

import torch
from safetensors.torch import save_file

import toys
from rnnkit.training import TrainConfig, Trainer


class Crash(Exception):
    pass


class CrashingTask(toys.SeriesTask):
    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def step(self, model, batch, carry, teacher_forcing: float = 1.0):
        self.calls += 1
        if self.calls == self.at:
            raise Crash
        return super().step(model, batch, carry, teacher_forcing)


def main(out: str) -> None:
    rank = int(os.environ["RANK"])
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=2, lr=0.05, lr_schedule="cosine", warmup_steps=1, checkpoint_every=2)

    model = toys.make(seed=10 + rank, dropout=0.0)  # different on each rank: DDP starts all from rank 0's
    trainer = Trainer(model, toys.SeriesTask(), toys.SeriesSource(n=6), cfg, val=toys.SeriesSource(n=3, seed=1),
                      run_dir=f"{out}/A")
    trainer.fit()
    # 3 validation batches on 2 ranks (2 + 1) and 1 batch (each rank evaluates it): the same metrics everywhere.
    metrics = [trainer.evaluate(), trainer.evaluate(toys.SeriesSource(n=1, seed=2))]
    with open(f"{out}/A-metrics-rank{rank}.json", "w") as f:
        json.dump(metrics, f)
    save_file(model.state_dict(), f"{out}/A-rank{rank}.safetensors")

    model = toys.make(seed=1)
    Trainer(model, toys.SeriesTask(), toys.SeriesSource(n=6), cfg, val=toys.SeriesSource(n=2, seed=1),
            run_dir=f"{out}/B-full").fit()
    save_file(model.state_dict(), f"{out}/B-full-rank{rank}.safetensors")

    try:
        Trainer(toys.make(seed=1), CrashingTask(at=3), toys.SeriesSource(n=6), cfg,
                val=toys.SeriesSource(n=2, seed=1), run_dir=f"{out}/B-resumed").fit()
    except Crash:
        pass
    model = toys.make(seed=2)
    Trainer(model, toys.SeriesTask(), toys.SeriesSource(n=6), cfg, val=toys.SeriesSource(n=2, seed=1),
            run_dir=f"{out}/B-resumed").fit(resume=True)
    save_file(model.state_dict(), f"{out}/B-resumed-rank{rank}.safetensors")


if __name__ == "__main__":
    main(sys.argv[1])
