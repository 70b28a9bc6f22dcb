"""The trainer: a plain PyTorch loop that knows nothing of the model's class or the data set.

One optimizer step, for batch ``b`` of epoch ``e`` at global step ``t``::

    lr_t  = lr * lr_factor(t) * plateau_scale          # schedules.py, plateau.py
    eps_t = teacher_forcing_ratio(t)                    # passed to the task if it takes it
    out   = task.step(model, b, carry[, teacher_forcing=eps_t])
    grad  = d out.loss / d theta                        # DDP averages it over processes
    norm  = ||grad||; clip by value, then by norm       # clipping.py; the norm is logged
    theta <- optimizer(theta, grad, lr_t)
    carry <- detach(out.carry)                          # truncated BPTT: no graph across batches

``carry`` starts every epoch as ``None``. Evaluation (every ``eval_every`` steps and/or at each epoch end)
averages the task's loss and logs over the validation batches, weighted by ``StepOutput.weight``, under
``torch.no_grad`` with the random generators restored afterwards, so evaluating never changes the
training trajectory. The monitored metric drives early stopping, the plateau schedule and the ``best``
checkpoint.

**Resuming.** A checkpoint holds everything the next step depends on: weights, optimizer state, the
position (epoch, next batch index within the epoch, global step), plateau and early-stopping state, every
process's random generator states, and the truncated-BPTT carry as it was after the last step. A resumed
run asks the batch source for ``batches(epoch, start)`` and continues with that carry, so it repeats
the uninterrupted run exactly (bitwise on one CPU thread). Checkpoints are taken after the step's
evaluation, so none is ever taken between a step and its evaluation.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoint as ckpt
from .clipping import clip_gradients
from .config import RESUMABLE_CHANGES, TrainConfig
from .distributed import DistributedEnv, detect, init_process_group, shard
from .logs import CsvLog, TensorBoardLog, progress_bar
from .optim import build_optimizer
from .plateau import EarlyStopping, MetricTracker, PlateauScale
from .schedules import lr_factor, teacher_forcing_ratio
from .serialize import map_tensors
from .task import BatchSource, StepOutput, Task, takes_teacher_forcing


@dataclass
class TrainResult:
    """How a call to :meth:`Trainer.fit` ended."""

    step: int  # optimizer steps taken in all
    epoch: int  # epochs completed
    stopped_early: bool  # early stopping ended the run
    best: float | None  # best monitored value seen (None without evaluation)
    metrics: dict[str, float]  # the last evaluation's metrics
    checkpoint: Path | None  # the latest checkpoint folder (None without a run folder)


@dataclass
class _Position:
    epoch: int = 0  # the epoch the next step belongs to
    batch: int = 0  # global index of the next batch within that epoch
    step: int = 0  # optimizer steps taken


def set_seed(seed: int) -> None:
    """Seed torch's and python's global random generators (dropout, sampling, ``random`` users)."""
    torch.manual_seed(seed)
    random.seed(seed)


class Trainer:
    """Trains ``model`` on ``task`` over batches from ``train``; see the module docstring.

    ``run_dir`` receives ``checkpoints/``, ``log.csv`` and ``tensorboard/``; with ``None`` nothing is
    written and the log rows are only kept in :attr:`history`. ``extras`` is any JSON-able dict saved in
    every checkpoint (vocabularies, the model's settings) so a checkpoint alone can rebuild the model.
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        train: BatchSource,
        config: TrainConfig | None = None,
        *,
        val: BatchSource | None = None,
        run_dir: str | os.PathLike | None = None,
        extras: dict[str, Any] | None = None,
    ) -> None:
        self.config = config or TrainConfig()
        self.model, self.task, self.train, self.val = model, task, train, val
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.extras = dict(extras or {})
        self.history: list[dict[str, Any]] = []
        self.env: DistributedEnv = detect()
        self.device = torch.device(self.config.device)
        if self.device.type == "cuda" and self.env.enabled:
            self.device = torch.device("cuda", self.env.local_rank)
        self._takes_tf = takes_teacher_forcing(task)
        self._check_setup()
        cfg = self.config
        self.early_stopping = EarlyStopping(MetricTracker(cfg.mode, cfg.min_delta), cfg.patience)
        self.plateau = PlateauScale(
            MetricTracker(cfg.mode, cfg.min_delta), cfg.plateau_patience, cfg.plateau_factor, cfg.min_lr / cfg.lr
        )
        self.optimizer: torch.optim.Optimizer | None = None

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    def fit(self, resume: bool | str | os.PathLike = False) -> TrainResult:
        """Train until ``epochs``/``max_steps`` or early stopping.

        ``resume=True`` continues from the run folder's latest checkpoint; a path continues from the
        checkpoint it names (see :func:`~.checkpoint.resolve`). A fresh run refuses a run folder that
        already holds checkpoints."""
        cfg, env = self.config, self.env
        torch.set_num_threads(cfg.threads)
        init_process_group(env, self.device)
        self.model.to(self.device)
        self.optimizer = build_optimizer(cfg, self.model.parameters())
        set_seed(cfg.seed + env.rank)
        position, carry, elapsed, stopped = _Position(), None, 0.0, False
        if resume is not False:
            position, carry, elapsed, stopped = self._restore(resume)
        elif self.checkpoint_dir is not None and ckpt.read_pointer(self.checkpoint_dir, "latest") is not None:
            raise FileExistsError(
                f"{self.run_dir} already holds checkpoints; pass resume=True to continue that run, "
                "or choose another run folder"
            )
        step_model = self._wrap(self.model)
        steps_per_epoch = [self._steps_in_epoch(e) for e in range(cfg.epochs)]
        total = sum(steps_per_epoch) if cfg.max_steps is None else min(cfg.max_steps, sum(steps_per_epoch))
        csv_log = tb_log = None
        if env.is_main and self.run_dir is not None:
            csv_log = CsvLog(self.run_dir / "log.csv", resume_step=position.step if resume is not False else None)
            tb_log = TensorBoardLog(self.run_dir / "tensorboard") if cfg.tensorboard else None
        bar = progress_bar(total, position.step, cfg.progress if env.is_main else False)
        t0 = time.perf_counter()
        saved_step = position.step if resume is not False else -1
        metrics: dict[str, float] = {}
        interval = _Interval()
        W = env.world_size
        try:
            while not stopped and position.epoch < cfg.epochs and position.step < total:
                epoch, n = position.epoch, steps_per_epoch[position.epoch]
                if position.batch == 0:
                    carry = None
                batches = self.train.batches(epoch, position.batch)
                for index, batch in shard(batches, position.batch, n, env):
                    t = position.step
                    lr = cfg.lr * lr_factor(cfg, t, total) * self.plateau.scale
                    tf = teacher_forcing_ratio(cfg, t)
                    out, grad_norm = self._train_step(step_model, batch, carry, lr, tf, t)
                    carry = map_tensors(torch.Tensor.detach, out.carry)
                    epoch_end = index // W + 1 == n
                    position = (
                        _Position(epoch + 1, 0, t + 1) if epoch_end else _Position(epoch, (index // W + 1) * W, t + 1)
                    )
                    if epoch_end:
                        carry = None
                    loss = out.loss.detach().item()
                    interval.add(loss, grad_norm, out.logs)
                    bar.set_postfix(loss=f"{loss:.4g}", lr=f"{lr:.3g}", refresh=False)
                    bar.update(1)

                    # After the step: evaluate, log, checkpoint (after the evaluation, which it records).
                    evaluated = False
                    if self.val is not None and (
                        (cfg.eval_every is not None and position.step % cfg.eval_every == 0)
                        or (epoch_end and cfg.eval_each_epoch)
                    ):
                        metrics, evaluated = self.evaluate(), True
                        stopped = self._watch(metrics)
                    last = stopped or position.step >= total
                    if evaluated or last or epoch_end or position.step % cfg.log_every == 0:
                        row = {"step": position.step, "epoch": epoch, "batch": index // W * W + W,
                               "lr": lr, "teacher_forcing": tf, **interval.means(),
                               **(metrics if evaluated else {}),
                               "elapsed": elapsed + time.perf_counter() - t0}
                        interval = _Interval()
                        self._log(row, csv_log, tb_log)
                    improved = evaluated and self.early_stopping.tracker.bad_evals == 0
                    due = (cfg.checkpoint_every is not None and position.step % cfg.checkpoint_every == 0)
                    if self.checkpoint_dir is not None and (due or epoch_end or last or improved):
                        pointers = ("latest", "best") if improved else ("latest",)
                        self._save(position, carry, elapsed + time.perf_counter() - t0, stopped, pointers)
                        saved_step = position.step
                    if last:
                        break
                else:
                    if position.epoch == epoch and position.step < total:
                        raise RuntimeError(
                            f"the training source yielded too few batches in epoch {epoch}: "
                            f"num_batches({epoch}) promised at least {n * W}"
                        )
            if self.checkpoint_dir is not None and saved_step != position.step:
                self._save(position, carry, elapsed + time.perf_counter() - t0, stopped, ("latest",))
        finally:
            bar.close()
            for log in (csv_log, tb_log):
                if log is not None:
                    log.close()
        latest = None
        if self.checkpoint_dir is not None and ckpt.read_pointer(self.checkpoint_dir, "latest"):
            latest = ckpt.resolve(self.checkpoint_dir)
        return TrainResult(
            step=position.step,
            epoch=position.epoch,
            stopped_early=stopped,
            best=self.early_stopping.tracker.best,
            metrics=metrics,
            checkpoint=latest,
        )

    def _train_step(
        self, step_model: nn.Module, batch: Any, carry: Any, lr: float, tf: float, t: int
    ) -> tuple[StepOutput, float]:
        cfg = self.config
        assert self.optimizer is not None
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        step_model.train()
        out = self._call_task(step_model, _to_device(batch, self.device), carry, tf)
        if not (isinstance(out.loss, torch.Tensor) and out.loss.dim() == 0 and out.loss.requires_grad):
            raise TypeError(
                "task.step must return a StepOutput whose loss is a scalar tensor attached to the graph, got "
                f"{type(out.loss).__name__} of shape {tuple(getattr(out.loss, 'shape', ()))}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        grad_norm = clip_gradients(self.model.parameters(), cfg.clip_norm, cfg.clip_value)
        if not math.isfinite(grad_norm):
            raise FloatingPointError(
                f"the gradient norm is {grad_norm} at step {t}; "
                "the loss diverged (lower TrainConfig.lr, or check the data for invalid values)"
            )
        self.optimizer.step()
        return out, grad_norm

    def _call_task(self, model: nn.Module, batch: Any, carry: Any, tf: float) -> StepOutput:
        out = self.task.step(model, batch, carry, teacher_forcing=tf) if self._takes_tf else (
            self.task.step(model, batch, carry)
        )
        if not isinstance(out, StepOutput):
            raise TypeError(f"task.step must return a StepOutput, got {type(out).__name__}")
        return out

    @torch.no_grad()
    def evaluate(self, source: BatchSource | None = None) -> dict[str, float]:
        """Mean loss and task logs over ``source`` (default: the validation source; its epoch-0 batches),
        weighted by each batch's ``StepOutput.weight``, as ``val_loss`` and ``val_<name>``.

        Under DDP rank ``r`` takes batches ``r, r + W, ...`` and the sums are added over processes, so all
        get the same metrics; with fewer batches than processes each evaluates them all."""
        source = source if source is not None else self.val
        if source is None:
            raise ValueError("evaluate() needs a batch source: none was given and the trainer has no val source")
        env = self.env
        init_process_group(env, self.device)
        was_training = self.model.training
        self.model.eval()
        python_state = random.getstate()
        sums: dict[str, float] = {}
        total_weight = 0.0
        with torch.random.fork_rng(devices=[]):
            carry = None
            n = source.num_batches(0)
            spread = env if n >= env.world_size else DistributedEnv()
            for _, batch in shard(source.batches(0, 0), 0, -(-n // spread.world_size), spread):
                out = self._call_task(self.model, _to_device(batch, self.device), carry, 1.0)
                carry = out.carry
                w = float(out.weight)
                total_weight += w
                for key, value in {"loss": float(out.loss), **out.logs}.items():
                    sums[key] = sums.get(key, 0.0) + w * float(value)
        random.setstate(python_state)
        self.model.train(was_training)
        keys = sorted(sums)
        reduced = spread.all_reduce_sum([sums[k] for k in keys] + [total_weight])
        if reduced[-1] <= 0:
            raise ValueError("the validation source yielded no batches (or only zero weights) to evaluate on")
        return {f"val_{k}": v / reduced[-1] for k, v in zip(keys, reduced[:-1])}

    def _watch(self, metrics: dict[str, float]) -> bool:
        """Feed the monitored metric to the plateau schedule and early stopping; whether to stop."""
        cfg = self.config
        if cfg.monitor not in metrics:
            raise KeyError(f"TrainConfig.monitor is {cfg.monitor!r}, but evaluation gives only {sorted(metrics)}")
        value = metrics[cfg.monitor]
        if cfg.lr_schedule == "plateau":
            self.plateau.update(value)
        return self.early_stopping.update(value)


    def _save(self, position: _Position, carry: Any, elapsed: float, stopped: bool, pointers: tuple[str, ...]) -> None:
        """Write a checkpoint: rank 0 writes the shared files, every process its own random states and
        carry, into one temporary folder that rank 0 then commits (see :mod:`.checkpoint`)."""
        env, root = self.env, self.checkpoint_dir
        assert root is not None and self.optimizer is not None
        name = ckpt.step_name(position.step)
        if env.is_main:
            ckpt.begin(root, name)
        env.barrier()
        tmp = root / f".tmp-{name}"
        try:
            rank_state = {"torch_rng": torch.get_rng_state(), "python_random": random.getstate(), "carry": carry}
            if torch.cuda.is_available():
                rank_state["cuda_rng"] = torch.cuda.get_rng_state_all()
            ckpt.write_tree(tmp, f"rank-{env.rank}", rank_state)
            if env.is_main:
                ckpt.write_tensors(tmp, "model.safetensors", self.model.state_dict())
                ckpt.write_tree(tmp, "optimizer", self.optimizer.state_dict())
                ckpt.write_json(tmp, "config.json", self.config.to_dict())
                ckpt.write_json(tmp, "extras.json", self.extras)
                ckpt.write_json(tmp, "trainer.json", {
                    "format": ckpt.FORMAT,
                    "step": position.step,
                    "epoch": position.epoch,
                    "batch": position.batch,
                    "world_size": env.world_size,
                    "elapsed": elapsed,
                    "stopped_early": stopped,
                    "early_stopping": self.early_stopping.state_dict(),
                    "plateau": self.plateau.state_dict(),
                })
            env.barrier()
            if env.is_main:
                ckpt.commit(root, name, pointers=pointers, keep_last=self.config.keep_last)
        except BaseException:
            if env.is_main:
                ckpt.abort(root, name)
            raise
        env.barrier()  # no process goes on (and perhaps reads `latest`) before the checkpoint is in place

    def _restore(self, resume: bool | str | os.PathLike) -> tuple[_Position, Any, float, bool]:
        """Load the checkpoint to resume from into the model, optimizer, schedules and generators."""
        assert self.optimizer is not None
        if resume is True:
            if self.checkpoint_dir is None:
                raise ValueError("resume=True needs the trainer's run_dir (or pass the checkpoint's path)")
            source: str | os.PathLike = self.checkpoint_dir
        else:
            source = resume  # type: ignore[assignment]
        loaded = ckpt.load_checkpoint(source)
        saved, current = loaded.config.to_dict(), self.config.to_dict()
        changed = [f"{k}: {saved[k]!r} -> {current[k]!r}" for k in saved if saved[k] != current[k]
                   and k not in RESUMABLE_CHANGES]
        if changed:
            raise ValueError(
                f"cannot resume from {loaded.path}: the config differs in fields that change the training "
                f"arithmetic ({'; '.join(changed)}); only {sorted(RESUMABLE_CHANGES)} may change"
            )
        if loaded.trainer["world_size"] != self.env.world_size:
            raise ValueError(
                f"{loaded.path} was written by {loaded.trainer['world_size']} process(es); resume with the same "
                f"number (this run has {self.env.world_size}) so every process gets back its batches and state"
            )
        self.model.load_state_dict(loaded.model)
        if loaded.optimizer is None:
            raise ckpt.CheckpointError(f"{loaded.path} holds no optimizer state (optimizer.json); cannot resume")
        self.optimizer.load_state_dict(loaded.optimizer)
        self.early_stopping.load_state_dict(loaded.trainer["early_stopping"])
        self.plateau.load_state_dict(loaded.trainer["plateau"])
        rank_state = loaded.rank_state(self.env.rank)
        torch.set_rng_state(rank_state["torch_rng"])
        random.setstate(rank_state["python_random"])
        if "cuda_rng" in rank_state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rank_state["cuda_rng"])
        carry = map_tensors(lambda x: x.to(self.device), rank_state["carry"])
        t = loaded.trainer
        return _Position(t["epoch"], t["batch"], t["step"]), carry, float(t["elapsed"]), bool(t["stopped_early"])


    def _check_setup(self) -> None:
        cfg = self.config
        if not self._takes_tf and (cfg.teacher_forcing != "constant" or cfg.tf_start != 1.0):
            raise ValueError(
                f"TrainConfig sets a teacher-forcing schedule ({cfg.teacher_forcing}, tf_start={cfg.tf_start}), "
                f"but {type(self.task).__name__}.step takes no 'teacher_forcing' argument to receive it"
            )
        watches = cfg.patience is not None or cfg.lr_schedule == "plateau" or cfg.eval_every is not None
        if watches and self.val is None:
            raise ValueError(
                "TrainConfig asks for evaluation (patience, eval_every or lr_schedule='plateau'), "
                "but the trainer was given no validation source (val=...)"
            )

    def _steps_in_epoch(self, epoch: int) -> int:
        n = self.train.num_batches(epoch)
        steps = n // self.env.world_size
        if steps < 1:
            raise ValueError(
                f"epoch {epoch} has {n} training batch(es), fewer than the {self.env.world_size} process(es)"
            )
        return steps

    def _wrap(self, model: nn.Module) -> nn.Module:
        if not self.env.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(
            model, device_ids=device_ids, find_unused_parameters=self.config.find_unused_parameters
        )

    def _log(self, row: dict[str, Any], csv_log: CsvLog | None, tb_log: TensorBoardLog | None) -> None:
        if not self.env.is_main:
            return
        self.history.append(row)
        for log in (csv_log, tb_log):
            if log is not None:
                log.write(row)


class _Interval:
    """Sums of the logged numbers since the last log row."""

    def __init__(self) -> None:
        self.count = 0
        self.sums: dict[str, float] = {}

    def add(self, loss: float, grad_norm: float, logs: dict[str, float]) -> None:
        self.count += 1
        for key, value in {"loss": loss, "grad_norm": grad_norm, **logs}.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)

    def means(self) -> dict[str, float]:
        return {k: v / self.count for k, v in self.sums.items()}


def _to_device(batch: Any, device: torch.device) -> Any:
    if hasattr(batch, "to") and not isinstance(batch, torch.Tensor):
        return batch.to(device)
    return map_tensors(lambda x: x.to(device), batch)
