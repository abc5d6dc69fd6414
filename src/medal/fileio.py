"""Atomic, deterministic file output and checksums."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from medal.errors import UserError

# A fixed timestamp for zip members so that equal arrays give byte-identical files.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _current_umask()


def md5_file(path: str | os.PathLike) -> str:
    """Return the hex md5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """Serialise to canonical JSON (sorted keys, fixed indentation, trailing newline)."""
    return json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n"


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write canonical JSON atomically."""
    write_text_atomic(path, dumps_json(obj))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Serialise arrays to ``.npz`` bytes that depend only on the arrays (sorted keys, fixed timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def write_npz_atomic(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write a deterministic ``.npz`` atomically."""
    write_bytes_atomic(path, npz_bytes(arrays))


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` into memory, refusing pickled objects; a missing, truncated or
    corrupted file is a :class:`UserError` that names it."""
    try:
        # Our own handle, so that a truncated file is closed too (np.load leaves it open when the zip is broken).
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise UserError(f"{path}: not found; run dvc repro, which builds it") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
            raise UserError(
                f"{path}: holds pickled Python objects, which are refused for safety; use a file of plain arrays"
            ) from None
        raise UserError(f"{path}: unreadable .npz ({exc.__class__.__name__}); delete it and rebuild it") from None


def replace_folder(folder: Path, files: dict[str, str]) -> None:
    """Replace ``folder`` by one holding exactly ``files`` (relative path to text), all at once."""
    with staged_folder(folder) as staging:
        for relative, text in files.items():
            write_text_atomic(staging / relative, text)


@contextmanager
def staged_folder(folder: Path) -> Iterator[Path]:
    """A new, empty folder beside ``folder`` to write into; when the block ends without an error it replaces
    ``folder`` at once, otherwise it is removed and ``folder`` stays as it was (never half-written)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~UMASK)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


JOBLIB_FOLDER_PREFIX = "joblib_memmapping_folder_"
# Where loky (joblib's process pool) keeps its named semaphores on Linux: sem.loky-<pid>-<random>.
SHARED_MEMORY = Path("/dev/shm")
LOKY_SEMAPHORE_PREFIX = "sem.loky-"


@contextmanager
def joblib_scratch(folder: Path) -> Iterator[None]:
    """While the block runs, send joblib's memory-mapped copies of large arrays (parallel model selection and
    references) to ``folder`` in the project instead of the system's shared memory, unless ``JOBLIB_TEMP_FOLDER``
    is set already; first remove those a killed command left there (their process is gone), so that a ``kill -9``
    leaks nothing that outlives the project. The named semaphores of this user's killed joblib workers are
    removed from the system's shared memory too."""
    for stale in SHARED_MEMORY.glob(f"{LOKY_SEMAPHORE_PREFIX}*") if SHARED_MEMORY.is_dir() else []:
        pid = stale.name.removeprefix(LOKY_SEMAPHORE_PREFIX).split("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and stale.stat().st_uid == os.getuid():
            stale.unlink(missing_ok=True)
    if "JOBLIB_TEMP_FOLDER" in os.environ:
        yield
        return
    for stale in folder.glob(f"{JOBLIB_FOLDER_PREFIX}*") if folder.is_dir() else []:
        pid = stale.name.removeprefix(JOBLIB_FOLDER_PREFIX).split("_")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    os.environ["JOBLIB_TEMP_FOLDER"] = str(folder.resolve())
    try:
        yield
    finally:
        del os.environ["JOBLIB_TEMP_FOLDER"]
        with suppress(OSError):  # the folder and its parents, once joblib has left them empty
            os.removedirs(folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
