"""The model's evidence marked in a comment's text: the text cut into segments, each with the decisions
(touchpoint ids, `urgency`) whose evidence covers it.

Spans carry offsets into the stored text. A masked view shows a different text (masking changes lengths), so a
span whose offsets do not give its text is found by its text instead; one found nowhere is left unmarked rather
than marking the wrong words. Only the text given is ever shown: the raw text never reaches a masked view."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    text: str
    marks: tuple[str, ...] = ()  # the decisions whose evidence covers this piece, in the order first given


def _ranges(text: str, spans: dict[str, list[dict]]) -> list[tuple[int, int, str]]:
    found = []
    for decision, items in (spans or {}).items():
        for span in items or []:
            piece = span.get("text") or ""
            if not piece.strip():
                continue
            start, end = span.get("start"), span.get("end")
            if not (isinstance(start, int) and isinstance(end, int) and text[start:end] == piece):
                start = text.find(piece)
                if start < 0:
                    continue
                end = start + len(piece)
            found.append((start, end, decision))
    return found


def highlight(text: str, spans: dict[str, list[dict]]) -> list[Segment]:
    ranges = _ranges(text, spans)
    if not ranges:
        return [Segment(text)] if text else []
    order = list(dict.fromkeys(decision for _, _, decision in ranges))
    cuts = sorted({0, len(text), *(s for s, _, _ in ranges), *(e for _, e, _ in ranges)})
    segments = []
    for start, end in zip(cuts, cuts[1:]):
        covering = {d for s, e, d in ranges if s <= start and end <= e}
        segments.append(Segment(text[start:end], tuple(d for d in order if d in covering)))
    # neighbours with the same marks read as one piece
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].marks == segment.marks:
            merged[-1] = Segment(merged[-1].text + segment.text, segment.marks)
        else:
            merged.append(segment)
    return merged
