"""Long texts are read in overlapping windows, never silently cut."""

from __future__ import annotations


def make_windows(ids: list[int], size: int, stride: int) -> list[list[int]]:
    """Windows of at most `size` token ids, each starting `stride` after the last, covering all of `ids`."""
    if len(ids) <= size:
        return [ids]
    starts = list(range(0, len(ids) - size, stride)) + [len(ids) - size]
    return [ids[s:s + size] for s in starts]


def head_and_tail(ids: list[int], size: int) -> list[int]:
    """For training: the start and the end of a long text, where complaints state and conclude."""
    if len(ids) <= size:
        return ids
    head = size // 2
    return ids[:head] + ids[len(ids) - (size - head):]
