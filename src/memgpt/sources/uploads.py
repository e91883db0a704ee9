"""Where uploaded files' bytes live: ``$MEMGPT_HOME/uploads/<source id>/<content hash>/<file name>``.

The bytes are the source of their source file, as a path on disk is for ``memgpt load``. The content hash
in the path keeps two uploads of one name apart (two requests at once never write the same file), and
gives the same bytes the same path, so uploading a file again changes nothing. Deleting the file, its
source or its user deletes the bytes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from memgpt.config import memgpt_home
from memgpt.errors import ValidationError
from memgpt.validation import check_text

MAX_NAME_BYTES = 255  # what Linux and macOS file systems allow for one name


def uploads_root() -> Path:
    return memgpt_home() / "uploads"


def file_name(filename: object) -> str:
    """The plain file name of an upload: no folders, no leading dots, something left, short enough to store."""
    name = check_text(filename, "A file name", max_chars=MAX_NAME_BYTES).replace("\\", "/").rsplit("/", 1)[-1]
    name = name.strip().lstrip(".")
    if not name or "\x00" in name:
        raise ValidationError(f"{filename!r} is not a usable file name.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValidationError(f"The file name is {len(name.encode('utf-8'))} bytes long; at most {MAX_NAME_BYTES}.")
    return name


def save(source_id: str, name: str, data: bytes) -> Path:
    """Store an upload's bytes (written whole, then renamed into place); returns their path."""
    digest = hashlib.sha256(data).hexdigest()[:24]
    folder = uploads_root() / source_id / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def is_upload(path: str) -> bool:
    return Path(path).is_relative_to(uploads_root().resolve())


def remove(path: str) -> None:
    """Delete an upload's bytes (a path outside the uploads folder, a file ``load`` read, is left alone)."""
    if not is_upload(path):
        return
    stored = Path(path)
    stored.unlink(missing_ok=True)
    for folder in (stored.parent, stored.parent.parent):  # the hash folder, then the source's, once empty
        try:
            folder.rmdir()
        except OSError:
            break


def remove_source(source_id: str) -> None:
    """Delete every upload of a source."""
    shutil.rmtree(uploads_root() / source_id, ignore_errors=True)
