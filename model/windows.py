"""Long texts are read in overlapping windows, never silently cut; windows are batched by a token budget."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


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


def token_batches(lengths: Sequence[int], items: Sequence[int], max_count: int, max_tokens: int
                  ) -> Iterator[list[int]]:
    """`items` (sorted by their `lengths`, shortest first) cut into batches of at most `max_count` items and
    `max_tokens` padded tokens each; an item longer than the budget still gets a batch of its own."""
    batch: list[int] = []
    for length, item in zip(lengths, items):
        if batch and (len(batch) == max_count or (len(batch) + 1) * length > max_tokens):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch
