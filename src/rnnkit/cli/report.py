"""How the commands print metrics: one readable line."""

from __future__ import annotations

RATES = ("error_rate", "accuracy")  # metric names ending so are fractions, shown as percentages


def format_metrics(metrics: dict[str, float], labels: dict[str, str] | None = None) -> str:
    """``name value`` pairs; rates as percentages, counts as integers, the rest with 4 digits."""
    labels = labels or {}
    parts = []
    for name, value in metrics.items():
        label = labels.get(name, name)
        if name.endswith(RATES):
            parts.append(f"{label} {100 * value:.2f}%")
        elif float(value).is_integer():
            parts.append(f"{label} {int(value):,}")
        else:
            parts.append(f"{label} {value:.4f}")
    return ", ".join(parts)

