"""Text encodings of exported files: UTF-8 (with or without BOM), UTF-16 from Excel, or GBK/GB18030."""

from __future__ import annotations

import codecs
from pathlib import Path

from pvoice.scoring.errors import ScoringError

BLOCK = 1 << 20
# Lines looked at when a file is not clean UTF-8: enough to tell a GBK export from a UTF-8 one with a few
# broken bytes, without reading a million-row file twice.
SAMPLE_LINES = 200_000


def check_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise ScoringError(f"unknown encoding {name!r}; try utf-8, gb18030 or utf-16", code="unknown_encoding") from exc


def detect_encoding(path: Path) -> str:
    """utf-8-sig when the file is UTF-8 (a few broken lines allowed), else gb18030.

    GB18030 is a superset of GBK and GB2312, so it reads what Chinese versions of Excel and survey tools
    export as "ANSI". UTF-8 bytes often decode as (wrong) GB18030 too, so the test runs the other way: a GBK
    line with Chinese in it is almost never valid UTF-8, while a UTF-8 export has at most a few broken lines.
    Broken bytes are not fatal: they become U+FFFD and the rows holding them are flagged.
    """
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if _is_utf8(path):
        return "utf-8-sig"
    non_ascii, bad_utf8 = _sample_lines(path)
    return "utf-8-sig" if bad_utf8 * 2 < non_ascii else "gb18030"


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as f:
            while block := f.read(BLOCK):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sample_lines(path: Path) -> tuple[int, int]:
    """Lines of the sample with non-ASCII bytes, and those of them that are not valid UTF-8."""
    non_ascii = bad_utf8 = 0
    with open(path, "rb") as f:
        for n, line in enumerate(f):
            if n >= SAMPLE_LINES:
                break
            if line.isascii():
                continue
            non_ascii += 1
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad_utf8 += 1
    return non_ascii, bad_utf8


def count_lines(path: Path) -> int:
    """Newlines in the file, plus one for an unterminated last line: a cheap upper bound on its records."""
    count, last = 0, b""
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (1 if last and last != b"\n" else 0)
