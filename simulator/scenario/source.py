"""Reading a file a planner names — a scenario, a catalogue, a history — without surprises.

Only a regular file is read (a folder, a named pipe that would block for ever, `/dev/zero`
that never ends, a socket are refused before opening), at most `limit` bytes of it, and it
must be UTF-8 text: a gzip or zip archive, a Parquet file, binary data (a NUL byte), Latin-1
or GBK text are refused with the line where the text stops being readable and what was
expected — never an echo of the bytes themselves.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MiB = 1 << 20

_MAGIC = (
    (b"\x1f\x8b", "gzip-compressed", "decompress it first"),
    (b"PK\x03\x04", "a zip archive (or an Excel workbook)", "export it as CSV or YAML text"),
    (b"PAR1", "a Parquet file", "give it a .parquet name where Parquet is read"),
    (b"\xff\xfe", "UTF-16 text", "save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text", "save it as UTF-8"),
    (b"\x89PNG", "a PNG image", ""),
    (b"%PDF", "a PDF document", ""),
)


class Unreadable(ValueError):
    """A file that cannot be read as text: `message` says why and what was expected;
    `line` is the line of the problem inside the file (None: the file as a whole)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def check_regular(path: Path, what: str) -> os.stat_result:
    """The file's status, or `Unreadable` when it is missing or not a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise Unreadable("no such file") from None
    except NotADirectoryError:
        raise Unreadable("no such file (a part of the path is a file, not a folder)") from None
    except OSError as e:
        raise Unreadable(f"cannot read: {e.strerror}") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise Unreadable(f"is a folder; expected {what}")
    if not stat.S_ISREG(mode):
        kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file")
        raise Unreadable(f"is {kind}, not a regular file; expected {what}")
    return st


def read_bytes(path: str | Path, what: str, limit: int) -> bytes:
    """At most `limit` bytes of a regular file, or `Unreadable`."""
    path = Path(path)
    st = check_regular(path, what)
    if st.st_size > limit:
        raise Unreadable(f"is {st.st_size / MiB:,.0f} MiB; expected {what} of at most {limit // MiB} MiB")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise Unreadable(f"cannot read: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):       # swapped for something else meanwhile
            raise Unreadable(f"is not a regular file; expected {what}")
        chunks, size = [], 0
        while size <= limit:
            block = os.read(fd, min(1 << 20, limit + 1 - size))
            if not block:
                break
            chunks.append(block)
            size += len(block)
    except OSError as e:
        raise Unreadable(f"cannot read: {e.strerror}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise Unreadable(f"holds more than {limit // MiB} MiB; expected {what} of at most {limit // MiB} MiB")
    return b"".join(chunks)


def decode(data: bytes, what: str) -> str:
    """`data` as UTF-8 text (a byte-order mark dropped), or `Unreadable` naming the line."""
    for magic, kind, hint in _MAGIC:
        if data.startswith(magic):
            raise Unreadable(f"is {kind}; expected {what} in UTF-8 text" + (f" ({hint})" if hint else ""))
    nul = data.find(b"\0")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if 0 <= nul < e.start:
            raise _nul(data, nul, what) from None
        line = data[:e.start].count(b"\n") + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise Unreadable(f"byte 0x{data[e.start]:02x} at column {column} is not UTF-8; expected {what} in "
                         "UTF-8 text (save it as UTF-8: it may be Latin-1, GBK or binary)", line) from None
    if nul >= 0:
        raise _nul(data, nul, what)
    return text


def _nul(data: bytes, at: int, what: str) -> Unreadable:
    line = data[:at].count(b"\n") + 1
    return Unreadable(f"a NUL byte (binary data); expected {what} in text", line)


def read_text(path: str | Path, what: str, limit: int) -> str:
    """A regular file of at most `limit` bytes as UTF-8 text, or `Unreadable`."""
    return decode(read_bytes(path, what, limit), what)
