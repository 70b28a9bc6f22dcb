"""Every model module's docstring example runs as it is and prints what its comments promise."""

import importlib
import re
import textwrap

import pytest

MODULES = ["classifier", "conditional_generator", "han", "language_model", "renet", "seq2seq", "tagger"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_example_runs_and_prints_what_it_promises(name, capsys):
    module = importlib.import_module(f"rnnkit.models.{name}")
    example = textwrap.dedent(module.__doc__.split("Example::\n", 1)[1])
    code_lines = [line for line in example.splitlines() if line.strip()]
    assert len(code_lines) <= 8, f"{name}: the example should stay a few lines, has {len(code_lines)}"
    promised = re.findall(r"^print\(.*\)\s+# (.+)$", example, flags=re.MULTILINE)
    assert promised, f"{name}: the example prints nothing it promises"
    exec(compile(example, f"rnnkit/models/{name}.py docstring", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(promised)
    for got, want in zip(printed, promised):
        assert got == want.strip()
