"""Writing result files atomically: a crash never leaves a half-written file behind."""

from __future__ import annotations

import errno
import io
import math
import os
import tempfile
from pathlib import Path

import numpy as np

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename over `path`.

    Only a regular file (or a new one) is replaced: a symbolic link is followed to the file it
    names, and a device or a pipe the planner names (`--junit /dev/null`, `/dev/stdout`) is
    written into as it is — renaming over it would replace the device itself. A folder or a
    socket is refused."""
    import stat

    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            with open(path, "wb") as f:
                f.write(data)
            return
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder; expected a file to write", str(path))
        raise OSError(errno.EINVAL, "is not a regular file; expected a file to write", str(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


_FORMULA = ("=", "+", "-", "@", "\t", "\r", "'")


def _escape(x):
    """A text cell a spreadsheet would run as a formula (`=HYPERLINK(…)`, `+1`, `-2`, `@x`)
    gets a leading `'`, as does one that starts with `'` (so that reading back is exact)."""
    return "'" + x if isinstance(x, str) and x.startswith(_FORMULA) else x


def _unescape(x):
    return x[1:] if isinstance(x, str) and x.startswith("'") else x


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """`df` with every text cell and column name that a spreadsheet would run as a formula
    quoted with a leading `'` (CSV injection); `read_table` undoes it."""
    out = df.rename(columns=_escape)
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(_escape)
    return out


def table_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    """A DataFrame as Parquet (deterministic bytes for equal data) or CSV (text cells that a
    spreadsheet would run as formulas quoted: `csv_safe`)."""
    if fmt == "csv":
        return csv_safe(df).to_csv(index=False).encode("utf-8")
    if fmt != "parquet":
        raise ValueError(f"unknown format {fmt!r}; expected 'parquet' or 'csv'")
    table = pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def json_safe(x):
    """What JSON can hold, recursively: NaN and ±inf → None, numpy scalars and arrays →
    Python numbers and lists, mapping keys → text."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_safe(v) for v in x]
    if isinstance(x, np.ndarray):
        return json_safe(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def read_table(path: str | Path) -> pd.DataFrame:
    """A table `table_bytes` wrote (.parquet or .csv, by extension). Raises ValueError naming
    the file when it cannot be read (truncated, not a table, not ours)."""
    import stat

    path = Path(path)
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except OSError as e:
        raise ValueError(f"{path}: cannot read: {e.strerror}") from None
    if not regular:
        raise ValueError(f"{path}: not a regular file; expected a results table")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        df = pd.read_csv(path)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        kind = "Parquet" if path.suffix == ".parquet" else "CSV"
        raise ValueError(f"{path}: cannot read it as {kind} ({first}); the file is damaged or was not "
                         "written by promosim completely: run the command again") from None
    df = df.rename(columns=_unescape)
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            df[c] = df[c].map(_unescape)
    return df
