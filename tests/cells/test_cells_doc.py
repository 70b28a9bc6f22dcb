"""The examples of docs/CELLS.md (the written cell contract) run, in order, as one program."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "CELLS.md"


def test_code_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) == 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "torch.Size([3, 10, 32]) torch.Size([4, 3, 16])"
    assert printed[1] == "torch.Size([10, 3, 16]) torch.Size([2, 3, 16]) torch.Size([2, 3, 16])"
    assert printed[2] == "True"
