"""Writing result files atomically: a crash never leaves a half-written file behind."""

from __future__ import annotations

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
    """Write `data` to a temporary file beside `path`, fsync it, then rename over `path`."""
    path = Path(path)
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


def table_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    """A DataFrame as Parquet (deterministic bytes for equal data) or CSV."""
    if fmt == "csv":
        return df.to_csv(index=False).encode("utf-8")
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
