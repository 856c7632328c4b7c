"""A comment's text cut into pieces for display: plain, or marked (the model's evidence, a searched word), with
personal identifiers masked for roles that may not read them. Offsets are the raw text's, so evidence spans
stay right even where masking changes a piece's length."""

from __future__ import annotations

from dataclasses import dataclass

from pvoice.serving.masking import find_pii


@dataclass(frozen=True)
class Piece:
    text: str
    mark: bool = False


def marked_pieces(text: str, spans: list[tuple[int, int]], *, mask: bool) -> list[Piece]:
    """`text` as pieces, those inside any of `spans` ([start, end) into `text`) marked. With `mask`, each
    identifier becomes its replacement, as one piece, marked when it overlaps a span."""
    spans = sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s)
    pii = find_pii(text) if mask else []

    def marked(start: int, end: int) -> bool:
        return any(s < end and start < e for s, e in spans)

    cuts = sorted({0, len(text), *(p for s, e in spans for p in (s, e)), *(p for x in pii for p in (x.start, x.end))})
    pieces: list[Piece] = []
    pending = list(pii)
    at = 0
    for nxt in cuts[1:]:
        if nxt <= at:
            continue
        if pending and pending[0].start == at:
            span = pending.pop(0)
            pieces.append(Piece(span.replacement, marked(span.start, span.end)))
            at = span.end
            continue
        stop = min([nxt] + [x.start for x in pending if x.start > at])
        pieces.append(Piece(text[at:stop], marked(at, stop)))
        at = stop
    merged: list[Piece] = []
    for piece in pieces:
        if merged and merged[-1].mark == piece.mark:
            merged[-1] = Piece(merged[-1].text + piece.text, piece.mark)
        elif piece.text:
            merged.append(piece)
    return merged


def word_spans(text: str, word: str) -> list[tuple[int, int]]:
    """Every occurrence of `word` in `text`."""
    out, at = [], text.find(word) if word else -1
    while at >= 0:
        out.append((at, at + len(word)))
        at = text.find(word, at + len(word))
    return out
