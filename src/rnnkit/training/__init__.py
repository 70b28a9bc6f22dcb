"""Training: a model-agnostic trainer with truncated BPTT, clipping, schedules, early stopping,
atomic safetensors checkpoints, CSV/TensorBoard logs and DDP. See docs/TRAINING.md."""

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint
from .clipping import clip_gradients
from .config import TrainConfig
from .distributed import DistributedEnv
from .logs import CsvLog
from .optim import build_optimizer
from .plot import plot_log
from .schedules import lr_factor, teacher_forcing_ratio
from .task import BatchSource, StepOutput, Task
from .trainer import Trainer, TrainResult, set_seed

__all__ = [
    "BatchSource",
    "Checkpoint",
    "CheckpointError",
    "CsvLog",
    "DistributedEnv",
    "StepOutput",
    "Task",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "build_optimizer",
    "clip_gradients",
    "load_checkpoint",
    "lr_factor",
    "plot_log",
    "set_seed",
    "teacher_forcing_ratio",
]
