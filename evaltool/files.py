"""Files that evaltool writes (reports, exports, rejects): whole or not at all."""

import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from evaltool.errors import EvaltoolError


@contextmanager
def written_whole(path: Path, *, compress: bool = False) -> Iterator[TextIO]:
    """A text file that appears at `path` only once the block has written all of it;
    gzip-compressed with `compress`.

    It is written to a temporary file beside `path` (missing folders are created) and
    renamed into place; on an error or an interruption no half-written file stays. A file
    that cannot be written is an EvaltoolError naming it.
    """
    umask = os.umask(0)
    os.umask(umask)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~umask)  # as open() would make it, not mkstemp's 0600
        if compress:
            with (
                os.fdopen(fd, "wb") as raw,
                gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as packed,
                io.TextIOWrapper(packed, encoding="utf-8") as text,
            ):
                yield text
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                yield handle
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise EvaltoolError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
