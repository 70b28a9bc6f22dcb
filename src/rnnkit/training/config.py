"""The trainer's settings: one typed dataclass, validated when made, stored in every checkpoint.

Every field carries the reason it exists beside it. ``TrainConfig.from_dict`` rebuilds a config from the
JSON a checkpoint holds and names any key it does not know.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, Literal

Optimizer = Literal["adam", "adamw", "sgd"]
LRSchedule = Literal["constant", "cosine", "linear", "step", "plateau"]
TeacherForcing = Literal["constant", "linear", "inverse_sigmoid"]
Mode = Literal["min", "max"]

# Fields that may differ between a checkpoint and the run resuming it: they change how a run is watched
# or how long it lasts, never the arithmetic of the steps already taken.
RESUMABLE_CHANGES = frozenset(
    {"epochs", "max_steps", "log_every", "tensorboard", "progress", "checkpoint_every", "keep_last", "threads"}
)


@dataclass
class TrainConfig:
    """How to train: length, optimizer, schedules, clipping, evaluation, early stopping, checkpoints, logs."""

    # Length. Training ends at whichever comes first.
    epochs: int = 10  # passes over the training batches
    max_steps: int | None = None  # optimizer steps in all; None: only `epochs` limits the run

    # Optimizer.
    optimizer: Optimizer = "adam"  # adam and adamw adapt per weight; sgd with momentum is the classic baseline
    lr: float = 1e-3  # peak learning rate (after warmup, before decay)
    weight_decay: float = 0.0  # adamw: decoupled decay; adam and sgd: L2 penalty added to the gradient
    betas: tuple[float, float] = (0.9, 0.999)  # adam/adamw moment decay rates
    momentum: float = 0.9  # sgd only: averages gradients over about 1 / (1 - momentum) steps
    nesterov: bool = False  # sgd only: look-ahead momentum

    # Learning-rate schedule: lr_t = lr * warmup(t) * decay(t) (* the plateau scale).
    lr_schedule: LRSchedule = "constant"  # decay after warmup: none, cosine, linear, step, or on a plateau
    warmup_steps: int = 0  # linear ramp from lr / warmup_steps to lr; steadies Adam's early moment estimates
    min_lr_ratio: float = 0.0  # cosine/linear: the floor, as a fraction of lr, reached at the last step
    step_size: int = 1000  # step: multiply the lr by `gamma` every `step_size` steps
    gamma: float = 0.5  # step: the factor
    plateau_factor: float = 0.5  # plateau: multiply the lr by this when the monitored metric stalls
    plateau_patience: int = 2  # plateau: evaluations without improvement before reducing
    min_lr: float = 0.0  # plateau: never reduce below this

    # Gradient clipping. Recurrent networks' gradients can explode through time (Pascanu et al. 2013);
    # rescaling the whole gradient keeps its direction. The total norm is logged every step either way.
    clip_norm: float | None = 5.0  # rescale so the total L2 norm is at most this; None: no rescaling
    clip_value: float | None = None  # clamp each gradient entry to [-v, v] first; None: off

    # Teacher forcing (scheduled sampling, Bengio et al. 2015): the probability that a decoder is fed the
    # true previous token rather than its own prediction, passed to the task at every step.
    teacher_forcing: TeacherForcing = "constant"  # constant, linear decay, or inverse-sigmoid decay
    tf_start: float = 1.0  # ratio at step 0 (constant: the ratio)
    tf_end: float = 0.0  # linear: the floor reached after `tf_decay_steps`
    tf_decay_steps: int = 10_000  # linear: steps from `tf_start` to `tf_end`
    tf_k: float = 1000.0  # inverse sigmoid: eps_i = k / (k + exp(i / k)); larger k decays later

    # Evaluation and early stopping.
    eval_every: int | None = None  # also evaluate every this many steps (long epochs); None: epoch ends only
    eval_each_epoch: bool = True  # evaluate at the end of every epoch
    monitor: str = "val_loss"  # the validation metric early stopping, the plateau schedule and `best` watch
    mode: Mode = "min"  # whether a smaller (loss) or larger (accuracy) monitored value is better
    min_delta: float = 0.0  # an improvement must beat the best value by more than this
    patience: int | None = None  # stop after this many evaluations without improvement; None: never

    # Checkpoints and logs.
    checkpoint_every: int | None = None  # also checkpoint every this many steps; epoch ends always checkpoint
    keep_last: int = 3  # checkpoints kept (plus the best one); older ones are deleted
    log_every: int = 1  # write a log row every this many steps (values averaged over them)
    tensorboard: bool = False  # also write TensorBoard events (needs the tensorboard package)
    progress: bool | None = None  # progress bar; None: only when stderr is a terminal

    # Reproducibility and hardware.
    seed: int = 0  # seeds torch and python `random` for dropout and sampling (plus the rank under DDP)
    threads: int = 1  # torch.set_num_threads; with another busy core, two threads ran 3-7x slower than one
    device: str = "cpu"  # where the model and batches live
    find_unused_parameters: bool = False  # DDP: allow parameters that get no gradient in some steps

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # JSON and YAML give lists
        for name, annotation in typing.get_type_hints(TrainConfig).items():
            if typing.get_origin(annotation) is Literal and getattr(self, name) not in typing.get_args(annotation):
                raise ValueError(
                    f"TrainConfig.{name} must be one of {typing.get_args(annotation)}, got {getattr(self, name)!r}"
                )
        _check(self.epochs >= 1, "epochs", self.epochs, "must be at least 1")
        _check(self.max_steps is None or self.max_steps >= 1, "max_steps", self.max_steps, "must be at least 1")
        _check(self.lr > 0 and math.isfinite(self.lr), "lr", self.lr, "must be a positive number")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, "must be >= 0")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "betas", self.betas,
               "must be two numbers in [0, 1)")
        _check(0 <= self.momentum < 1, "momentum", self.momentum, "must be in [0, 1)")
        _check(not self.nesterov or self.momentum > 0, "nesterov", self.nesterov, "needs momentum > 0")
        _check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, "must be >= 0")
        _check(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", self.min_lr_ratio, "must be in [0, 1]")
        _check(self.step_size >= 1, "step_size", self.step_size, "must be at least 1")
        _check(0 < self.gamma <= 1, "gamma", self.gamma, "must be in (0, 1]")
        _check(0 < self.plateau_factor < 1, "plateau_factor", self.plateau_factor, "must be in (0, 1)")
        _check(self.plateau_patience >= 0, "plateau_patience", self.plateau_patience, "must be >= 0")
        _check(0 <= self.min_lr <= self.lr, "min_lr", self.min_lr, "must be in [0, lr]")
        _check(self.clip_norm is None or self.clip_norm > 0, "clip_norm", self.clip_norm, "must be > 0 or None")
        _check(self.clip_value is None or self.clip_value > 0, "clip_value", self.clip_value, "must be > 0 or None")
        _check(0 <= self.tf_start <= 1, "tf_start", self.tf_start, "must be in [0, 1]")
        _check(0 <= self.tf_end <= self.tf_start, "tf_end", self.tf_end, "must be in [0, tf_start]")
        _check(self.tf_decay_steps >= 1, "tf_decay_steps", self.tf_decay_steps, "must be at least 1")
        _check(self.tf_k >= 1, "tf_k", self.tf_k, "must be >= 1 (k / (k + exp(0)) = k / (k + 1) < 1 starts the decay)")
        _check(self.eval_every is None or self.eval_every >= 1, "eval_every", self.eval_every, "must be >= 1 or None")
        _check(bool(self.monitor), "monitor", self.monitor, "must name a validation metric")
        _check(self.min_delta >= 0, "min_delta", self.min_delta, "must be >= 0")
        _check(self.patience is None or self.patience >= 1, "patience", self.patience, "must be >= 1 or None")
        _check(self.checkpoint_every is None or self.checkpoint_every >= 1, "checkpoint_every",
               self.checkpoint_every, "must be >= 1 or None")
        _check(self.keep_last >= 1, "keep_last", self.keep_last, "must be at least 1")
        _check(self.log_every >= 1, "log_every", self.log_every, "must be at least 1")
        _check(self.threads >= 1, "threads", self.threads, "must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from a dict such as :meth:`to_dict` gives; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}; known fields: {sorted(known)}")
        return cls(**values)


def _check(ok: bool, name: str, value: Any, problem: str) -> None:
    if not ok:
        raise ValueError(f"TrainConfig.{name} {problem}, got {value!r}")
