"""The input of a streamed run in its folder: copied when it is small, else recorded by sha256 and path.

A catalog of ten million rows is gigabytes; copying it into every run folder would double the disk it
takes. Past ``COPY_MAX_BYTES`` the run keeps ``inputs/input_ref.json`` (path, size, sha256 of each file),
and ``--resume`` refuses an input whose bytes changed since.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from labnb.errors import InputError
from labnb.scale.source import Source
from labnb.store.runfolder import RunFolder, sha256_file

COPY_MAX_BYTES = 100 * 1024 * 1024  # 100 MiB: copied into inputs/ up to this size, referenced beyond
REFERENCE = "inputs/input_ref.json"
COPIES = "inputs/input"


def snapshot_input(folder: RunFolder, source: Source) -> None:
    files = [{"path": str(Path(f).resolve()), "bytes": Path(f).stat().st_size, "sha256": sha256_file(Path(f))}
             for f in source.files]
    copied = source.bytes <= COPY_MAX_BYTES
    if copied:
        target = folder.file(COPIES)
        target.mkdir(parents=True, exist_ok=True)
        for f in source.files:
            shutil.copyfile(f, target / Path(f).name)
    folder.write_json(REFERENCE, {
        "source": source.path, "kind": source.kind, "files": files, "copied": copied,
        "note": (f"copied under {COPIES}/" if copied else
                 f"over {COPY_MAX_BYTES // (1024 * 1024)} MiB: not copied; the files are named by path and sha256"),
    })


def verified_input(folder: RunFolder, source: Source) -> Source:
    """The run's input for ``--resume``: its copy, or the original files if their sha256 still matches."""
    ref = folder.read_json(REFERENCE)
    assert isinstance(ref, dict)
    if ref["copied"]:
        copies = folder.file(COPIES)
        files = tuple(str(copies / Path(f["path"]).name) for f in ref["files"])
        return replace(source, files=files)
    for entry in ref["files"]:
        path = Path(entry["path"])
        if not path.is_file() or sha256_file(path) != entry["sha256"]:
            raise InputError(f"{path}: the run's input is gone or changed since the run started (sha256 differs); "
                             "a resumed run reads the very same bytes")
    return source
