"""Layer tars made in memory, for unit tests of code that reads layers (no engine needed)."""

from __future__ import annotations

import io
import tarfile


def tar_of(*entries: tuple[str, bytes | None]) -> bytes:
    """A layer tar: (path, bytes) is a file, (path, None) a folder; names as given (whiteouts included)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
