"""The ``rnnkit`` command: ``train TASK``, ``eval``, ``predict``, ``generate``, ``datasets``.

Every command's options are typed (jsonargparse checks them, ``Literal`` fields accept only their
choices) and documented in ``--help``. ``rnnkit train`` also reads ``--config FILE.yaml|.toml`` and
dotted overrides (``--model.hidden_size 256``). See docs/CLI.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from jsonargparse import ArgumentParser
from jsonargparse import ArgumentError as ParseError

from rnnkit.cli import commands
from rnnkit.cli.config_files import check_config_keys, toml_configs_as_json
from rnnkit.cli.parse_errors import command_of, explain
from rnnkit.cli.train import run as run_train
from rnnkit.cli.train import task_parser
from rnnkit.data import DataFormatError, DataOptionError
from rnnkit.tasks import TASKS, ConfigError, TaskError
from rnnkit.training import CheckpointError

# What a user can correct: a malformed file or a reader option it does not take, a rejected option value,
# a request the task cannot serve, a missing file (a data package not installed included), a checkpoint
# that cannot be read. Anything else is a fault in the program and keeps its traceback.
USER_ERRORS = (DataFormatError, DataOptionError, ConfigError, TaskError, FileNotFoundError, CheckpointError)

COMMANDS = {
    "eval": (commands.eval_parser, commands.run_eval, "report a trained model's metrics"),
    "predict": (commands.predict_parser, commands.run_predict, "predict for input lines"),
    "generate": (commands.generate_parser, commands.run_generate, "sample text from an lm or generate run"),
    "datasets": (commands.datasets_parser, commands.run_datasets, "list the built-in data sets"),
}


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks: train a model for a task, evaluate it, predict, generate.",
    )
    subcommands = parser.add_subcommands(dest="command")
    train = ArgumentParser(description="Train a model for one task; see rnnkit train TASK --help.")
    subcommands.add_subcommand("train", train, help="train a model: rnnkit train TASK --run DIR ...")
    for name, (make, _, summary) in COMMANDS.items():
        subcommands.add_subcommand(name, make(), help=summary)
    tasks = train.add_subcommands(dest="task")
    for name, task in TASKS.items():
        tasks.add_subcommand(name, task_parser(task), help=task.summary)
    _raise_parse_errors(parser)
    return parser


def _raise_parse_errors(parser: ArgumentParser) -> None:
    """Make ``parser`` and its subcommands raise their errors, so :func:`main` says them in one line."""
    parser.exit_on_error = False
    subcommands = getattr(parser, "_subcommands_action", None)
    for sub in subcommands._name_parser_map.values() if subcommands else ():
        _raise_parse_errors(sub)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        words, command = command_of(parser, argv)
        check_config_keys(argv, (a.dest for a in command._actions if a.dest != "help"))
        try:
            cfg = parser.parse_args(toml_configs_as_json(argv))
        except ParseError as error:
            print(f"error: {explain(str(error), command, words)}", file=sys.stderr)
            print(f"see: rnnkit {' '.join([*words, '--help'])}", file=sys.stderr)
            raise SystemExit(2) from None
        if cfg.command == "train":
            return run_train(cfg.train.task, cfg.train[cfg.train.task])
        _, run, _ = COMMANDS[cfg.command]
        return run(cfg[cfg.command])
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
