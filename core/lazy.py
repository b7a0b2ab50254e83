"""Lazy imports of ``"package.module:attribute"`` targets.

Registries (model families, trainers, build steps) name their code this way so
a heavy module is imported only when its entry is used.
"""

from __future__ import annotations

import importlib


def load(target: str):
    """The attribute named by ``"package.module:attribute"``, importing its module now."""
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)
