"""Every ``python`` code block of the README and the docs runs, and prints what the page says it prints.

A page's blocks run in order in one namespace (later examples build on earlier ones), except where
``STANDALONE`` says each block must stand on its own. ``PROMISED`` lists lines of output the page shows,
so an example that runs but computes something else fails too.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROMISED = {
    "README.md": [
        "True",
        "torch.Size([3, 5, 32]) torch.Size([4, 3, 16])",
        "0.0",
        "2 [2, 2]",
        "torch.bfloat16 torch.Size([100, 64, 256])",
    ],
    "docs/CELLS.md": [
        "torch.Size([3, 10, 32]) torch.Size([4, 3, 16])",
        "torch.Size([10, 3, 16]) torch.Size([2, 3, 16]) torch.Size([2, 3, 16])",
        "True",
    ],
    "docs/MODELS.md": ["torch.Size([4, 9])", "torch.Size([2, 5, 40])", "torch.Size([8, 32, 14, 14])"],
    "docs/SEQ2SEQ.md": ["0.25"],
    "docs/DATA.md": ["12000", "2 expected a source and a target", "31 43"],
    "docs/TRAINING.md": ["80 True", "32"],
}
STANDALONE = {"docs/MODELS.md"}


@pytest.mark.parametrize("page", sorted(PROMISED))
def test_code_blocks_run_and_print_what_the_page_shows(page, capsys):
    path = ROOT / page
    blocks = re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert blocks, f"{page} has no python examples"
    namespace: dict = {}
    for block in blocks:
        if page in STANDALONE:
            namespace = {}
        exec(compile(block, str(path), "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out
    for line in PROMISED[page]:
        assert line in printed, f"{page}: expected {line!r} in the output"


def test_every_page_with_python_examples_is_checked():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    with_examples = {
        str(p.relative_to(ROOT)) for p in pages if "```python" in p.read_text(encoding="utf-8")
    }
    assert with_examples <= set(PROMISED), f"unchecked pages: {sorted(with_examples - set(PROMISED))}"
