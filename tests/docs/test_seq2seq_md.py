"""The code blocks of docs/SEQ2SEQ.md run, in order, as one program."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "SEQ2SEQ.md"


def test_code_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 5
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out
    assert "0.25" in printed
