"""Every code block of docs/MODELS.md runs on its own and prints the shapes it promises."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "MODELS.md"


def test_code_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 7
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})  # noqa: S102  each example stands alone
    printed = capsys.readouterr().out
    for promised in ("torch.Size([4, 9])", "torch.Size([2, 5, 40])", "torch.Size([8, 32, 14, 14])"):
        assert promised in printed
