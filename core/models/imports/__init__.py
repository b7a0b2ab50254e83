"""Importers of models trained elsewhere: each turns a foreign checkpoint into a normal ``models/<name>/``.

One module per format (``FORMATS``: format name -> ``"module:function"``, loaded lazily);
each function has the signature ``import_<format>(ws, name, checkpoint, *, tags=None,
words=None, force=False) -> ImportResult`` and writes the directory through
:func:`core.models.imports.common.write_imported` (``config.json`` ``source`` = the
format name). Every file is read with ``torch.load(weights_only=True, map_location="cpu")``
(:func:`core.models.checkpoint.load_tensors`): a pickle payload is refused unread, tensors
saved on a GPU or in half precision come back as float32 CPU tensors.
"""

from __future__ import annotations

from ...errors import ParameterError
from ...lazy import load

#: Format name -> its importer (``"module:function"``).
FORMATS = {
    "won-lightning": "core.models.imports.won_lightning:import_won_lightning",
    "zeroshot-lightning": "core.models.imports.zeroshot_lightning:import_zeroshot_lightning",
    "tagspace": "core.models.imports.tagspace_dir:import_tagspace_dir",
}


def import_model(ws, name: str, fmt: str, checkpoint, **options):
    """Import ``checkpoint`` in format ``fmt`` as ``models/<name>/`` of ``ws``; returns an ``ImportResult``."""
    if fmt not in FORMATS:
        raise ParameterError(f"unknown model format {fmt!r}; use one of {sorted(FORMATS)}")
    return load(FORMATS[fmt])(ws, name, checkpoint, **options)


__all__ = ["FORMATS", "import_model"]
