"""Result folders written as one set: a reader sees the old run or the new one, never a mix.

`OutputSet(out)` checks `--out` before any work (not empty, not a file or a device, a folder
that can be written in, holding nothing but an earlier run's files) and opens a fresh hidden
folder beside it. The command writes every file there; on success the fresh folder takes
the place of `out` in one step (Linux `renameat2(RENAME_EXCHANGE)`; elsewhere two renames),
and the old files are removed. An interruption — Ctrl-C, SIGTERM, SIGKILL, a crash — leaves
`out` as it was; what a killed run left behind is removed by the next run into `out`.

The folder's manifest (`run.json` for `promosim run`) lists every file with its SHA-256, so
that a reader can tell a folder whose files come from two runs — copied together by hand, or
written by another tool — and refuse it (`verify`).
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from simulator.scenario.errors import InputError

_HARMLESS = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
"""Files a file browser drops in any folder; replaced with the folder like ours."""

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_TAG = ".promosim-"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digests(folder: Path, names: Iterable[str]) -> dict[str, str]:
    """{name: SHA-256 of folder/name} — the manifest of a set."""
    return {n: sha256(Path(folder) / n) for n in sorted(names)}


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ≥ 3.15); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutputSet:
    """The `--out` folder of one command, written as one set (module docstring).

    `option` names the option in messages (`--out`); `ours(name)` says whether an entry of an
    existing folder is a file this kind of command writes (so it may be replaced); anything
    else in the folder makes it refuse, rather than delete a planner's own files.

        with OutputSet(args.out, ours=RUN_FILES.__contains__) as folder:   # checked here
            ... write every file into folder ...                            # swapped in at the end
    """

    def __init__(self, out: str | Path, ours, option: str = "--out"):
        self.shown = str(out)
        self.option = option
        self.ours = ours
        self.target = Path(os.path.abspath(out))
        self.staging: Path | None = None
        self.inside = False

    # -------------------------------------------------------------- before
    def _fail(self, message: str) -> InputError:
        return InputError(f"promosim: {self.option} {self.shown}: {message}")

    def check(self) -> None:
        """Refuse an `out` that cannot hold the results, before any work."""
        if not self.shown.strip():
            raise self._fail("expected a folder path, got an empty one")
        t = self.target
        cwd = Path(os.getcwd())
        if t == cwd or t in cwd.parents:
            raise self._fail("is the current folder (or holds it); give a folder for the results, "
                             "e.g. results/run1")
        if t.is_symlink():
            self.target = t = Path(os.path.realpath(t))
        if os.path.lexists(t):
            mode = os.stat(t).st_mode
            if not stat.S_ISDIR(mode):
                what = ("a file" if stat.S_ISREG(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                        else "not a folder")
                raise self._fail(f"is {what}; expected a folder for the results (created if missing)")
            try:
                entries = sorted(os.listdir(t))
            except OSError as e:
                raise self._fail(f"cannot list the folder: {e.strerror}") from None
            foreign = [e for e in entries if not self.ours(e) and e not in _HARMLESS and not e.startswith(_TAG)]
            if foreign:
                more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
                raise self._fail(f"holds files promosim did not write here ({', '.join(foreign[:3])}{more}); "
                                 "its results replace the whole folder, so give a new folder or an earlier "
                                 "results folder of this command")
        else:
            anc = t.parent
            while not os.path.lexists(anc) and anc != anc.parent:
                anc = anc.parent
            if not anc.is_dir():
                raise self._fail(f"{anc} is a file, not a folder; the results need a folder")
            try:
                t.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise self._fail(f"cannot create {t.parent}: {e.strerror}") from None

    def open(self) -> Path:
        """Check `out` and create the fresh folder the command writes into: beside `out`, or —
        when only `out` itself can be written (a mounted volume in a read-only parent) — inside
        it, whence `commit` moves the files one by one (the manifest written last then tells a
        reader the set from a mix)."""
        self.check()
        self._sweep(self.target.parent, f".{self.target.name}{_TAG}")
        token = f"{os.getpid()}-{secrets.token_hex(4)}"
        try:
            self.staging = _fresh(self.target.parent / f".{self.target.name}{_TAG}{token}")
            self.inside = False
        except OSError as e:
            if not self.target.is_dir():
                raise self._fail(f"cannot write in {self.target.parent}: {e.strerror}") from None
            self._sweep(self.target, _TAG)
            try:
                self.staging = _fresh(self.target / f"{_TAG}{token}")
                self.inside = True
            except OSError as e2:
                raise self._fail(f"cannot write in {self.target}: {e2.strerror}") from None
        return self.staging

    @staticmethod
    def _sweep(folder: Path, prefix: str) -> None:
        """Remove what killed runs into this folder left behind (their process is gone)."""
        try:
            entries = os.listdir(folder)
        except OSError:
            return
        for entry in entries:
            if not entry.startswith(prefix):
                continue
            pid = entry[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(folder / entry, ignore_errors=True)

    # --------------------------------------------------------------- after
    def commit(self) -> Path:
        """Put the written folder in the place of `out` in one step; remove the old files."""
        staging, target = self.staging, self.target
        assert staging is not None, "open() first"
        for f in staging.iterdir():                  # the set's data on disk before the swap
            if f.is_file():
                _fsync(f)
        _fsync(staging)
        if self.inside:
            return self._move_in()
        if not os.path.lexists(target):
            try:
                os.rename(staging, target)
                _fsync(target.parent)
                self.staging = None
                return target
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        if _exchange(staging, target):
            _fsync(target.parent)
            shutil.rmtree(staging, ignore_errors=True)        # now the old files
        else:
            old = target.parent / f".{target.name}{_TAG}{os.getpid()}-old-{secrets.token_hex(4)}"
            os.rename(target, old)
            os.rename(staging, target)
            _fsync(target.parent)
            shutil.rmtree(old, ignore_errors=True)
        self.staging = None
        return target

    def _move_in(self) -> Path:
        """Staged inside `out`: replace its files by the new ones one by one — the manifest
        (the staged file named like a manifest, `run.json`) last — then remove what the old
        run had and the new one has not."""
        staging, target = self.staging, self.target
        new = sorted(os.listdir(staging), key=lambda n: n in _MANIFESTS)
        for name in os.listdir(target):
            if name not in new and self.ours(name) and name not in _MANIFESTS:
                _remove(target / name)             # the old run's files first: no stale one remains
        for name in new:
            if (target / name).is_dir():
                shutil.rmtree(target / name)
            os.replace(staging / name, target / name)
        _fsync(target)
        shutil.rmtree(staging, ignore_errors=True)
        self.staging = None
        return target

    def discard(self) -> None:
        """Remove the fresh folder (the command failed or was interrupted)."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def __enter__(self) -> Path:
        return self.open()

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()


_MANIFESTS = ("run.json", "optimize.json", "fit.json", "compare.json")


def _fresh(folder: Path) -> Path:
    """Create `folder` and check that a file can be made in it."""
    folder.mkdir()
    try:
        probe = folder / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def verify(folder: Path, manifest: dict[str, str] | None, family: Iterable[str], manifest_name: str,
           error=InputError) -> list[str]:
    """Check a results folder against its manifest ({file: SHA-256}).

    Raises `error` when a listed file is missing or differs (the folder mixes runs); returns a
    warning for each file of `family` (names a run may write) that is there but not listed — a
    stale file of another run (`kpis.csv` beside `kpis.parquet`), which readers ignore."""
    folder = Path(folder)
    if manifest is None:
        return []
    for name, digest in manifest.items():
        path = folder / name
        if not path.is_file():
            raise error(f"{folder}: {name} is missing, though {manifest_name} lists it: the folder is "
                        "incomplete; run the command again into it")
        if sha256(path) != digest:
            raise error(f"{folder}: {name} does not belong to the run recorded in {manifest_name} (its "
                        "contents differ): the folder mixes files of two runs; run the command again "
                        "into it, or into a new folder")
    warnings = []
    for name in family:
        if name not in manifest and (folder / name).is_file():
            warnings.append(f"{folder}: {name} is not part of the run recorded in {manifest_name} "
                            "(a stale file of another run); it is ignored")
    return warnings
