"""What every benchmark does with its report: print it and keep it under ``bench/results/``."""

from __future__ import annotations

from pathlib import Path


def publish(text: str, out: str | Path) -> None:
    """Print ``text`` and write it to ``out`` (its folder created), ending with one newline."""
    print(text)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text.rstrip("\n") + "\n")
