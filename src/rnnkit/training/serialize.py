"""Nested Python values as a flat dict of tensors (for safetensors) plus a JSON layout, and back.

Checkpoints load nothing through pickle: an optimizer's ``state_dict``, a recurrent carry or a random
generator's state is split into its tensors, stored by safetensors, and a JSON *layout* that records
the structure around them. The layout mirrors the value:

- ``None``, ``bool``, ``int``, ``float``, ``str``: themselves;
- a tensor: ``{"tensor": name}``, the name of its entry in the tensor dict;
- ``{"tuple": [...]}``, ``{"list": [...]}``, ``{"dict": [[key, value], ...]}`` (keys may be ``int`` or ``str``,
  as in an optimizer's ``state``);
- a named tuple (``LSTMState(h, c)``): ``{"namedtuple": name, "module": module, "fields": [...], "items": [...]}``.
  It is rebuilt as that class when its module is already imported (no import is ever triggered by a
  checkpoint), else as an equivalent ``collections.namedtuple`` with the same name and fields.
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Callable
from typing import Any

import torch

Layout = Any  # a JSON value as described in the module docstring


def flatten(value: Any, prefix: str) -> tuple[dict[str, torch.Tensor], Layout]:
    """``value`` as (tensors named ``prefix/...``, layout). Tensors are detached, moved to the CPU and made
    contiguous; any that share memory with another are copied, as safetensors stores each one apart."""
    tensors: dict[str, torch.Tensor] = {}
    layout = _flatten(value, prefix, tensors)
    return unshare(tensors), layout


def unflatten(layout: Layout, tensors: dict[str, torch.Tensor]) -> Any:
    """The value :func:`flatten` took apart."""
    if layout is None or isinstance(layout, (bool, int, float, str)):
        return layout
    if not isinstance(layout, dict) or len(layout) == 0:
        raise ValueError(f"malformed layout entry {layout!r}")
    if "tensor" in layout:
        name = layout["tensor"]
        if name not in tensors:
            raise KeyError(f"tensor {name!r} named in the layout is missing")
        return tensors[name]
    if "tuple" in layout:
        return tuple(unflatten(v, tensors) for v in layout["tuple"])
    if "list" in layout:
        return [unflatten(v, tensors) for v in layout["list"]]
    if "dict" in layout:
        return {key: unflatten(v, tensors) for key, v in layout["dict"]}
    if "namedtuple" in layout:
        cls = _namedtuple_class(layout["module"], layout["namedtuple"], layout["fields"])
        return cls(*(unflatten(v, tensors) for v in layout["items"]))
    raise ValueError(f"malformed layout entry {layout!r}")


def unshare(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors, copying any whose storage another entry already uses (tied weights)."""
    seen: set[int] = set()
    out = {}
    for name, tensor in tensors.items():
        t = tensor.detach().cpu().contiguous()
        storage = t.untyped_storage().data_ptr()
        if storage in seen and t.numel() > 0:
            t = t.clone()
        seen.add(t.untyped_storage().data_ptr())
        out[name] = t
    return out


def _flatten(value: Any, path: str, tensors: dict[str, torch.Tensor]) -> Layout:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        if path in tensors:
            raise ValueError(f"two entries flatten to the same tensor name {path!r}")
        tensors[path] = value
        return {"tensor": path}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        cls = type(value)
        return {
            "namedtuple": cls.__qualname__,
            "module": cls.__module__,
            "fields": list(value._fields),
            "items": [_flatten(v, f"{path}/{k}", tensors) for k, v in zip(value._fields, value)],
        }
    if isinstance(value, (tuple, list)):
        items = [_flatten(v, f"{path}/{i}", tensors) for i, v in enumerate(value)]
        return {"tuple": items} if isinstance(value, tuple) else {"list": items}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (int, str)) or isinstance(key, bool):
                raise TypeError(f"cannot store {path!r}: dict key {key!r} is not an int or str")
        return {"dict": [[key, _flatten(v, f"{path}/{key}", tensors)] for key, v in value.items()]}
    raise TypeError(
        f"cannot store {path!r} of type {type(value).__name__} in a checkpoint: only tensors, None, numbers, "
        "strings and tuples, lists, named tuples and dicts of them"
    )


def _namedtuple_class(module: str, qualname: str, fields: list[str]) -> type:
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if isinstance(found, type) and issubclass(found, tuple) and list(getattr(found, "_fields", ())) == fields:
        return found
    return collections.namedtuple(qualname.rsplit(".", 1)[-1], fields)


def map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], value: Any) -> Any:
    """``value`` with ``fn`` applied to every tensor inside its tuples, named tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(map_tensors(fn, v) for v in value))
    if isinstance(value, (tuple, list)):
        return type(value)(map_tensors(fn, v) for v in value)
    if isinstance(value, dict):
        return {k: map_tensors(fn, v) for k, v in value.items()}
    return value
