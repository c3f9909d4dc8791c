"""Checks on saved-model files, before Keras is asked to read them (its messages mislead: an empty
``.keras`` file is reported as "File not found")."""

from __future__ import annotations

import os
import zipfile

_WRITERS = {".keras": "model.save('NAME.keras')", ".h5": "model.save_weights('NAME.weights.h5')"}


def check_saved_file(path: str, what: str = "model file") -> None:
    """Raise ``ValueError`` naming ``path`` when it is empty, or is a ``.keras`` file that is not a
    zip archive; ``FileNotFoundError`` when it does not exist."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such {what} {path!r}")
    ext = ".keras" if path.endswith(".keras") else ".h5" if path.endswith(".h5") else None
    if ext is None:
        return
    problem = ("is empty" if os.path.getsize(path) == 0 else
               "is not a zip archive" if ext == ".keras" and not zipfile.is_zipfile(path) else None)
    if problem:
        kind = ".keras" if ext == ".keras" else ".weights.h5"
        raise ValueError(f"{what} {path!r} {problem}: not a valid {kind} file "
                         f"(accepted: a file written by {_WRITERS[ext]})")
