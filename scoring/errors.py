"""Errors of batch scoring, each with a stable code that the CLI prints and tests match on."""

from __future__ import annotations


class ScoringError(Exception):
    """A scoring job that cannot run as asked; the message says how to fix it."""

    code = "scoring_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class UnsupportedFormat(ScoringError):
    code = "unsupported_format"


class NoTextColumn(ScoringError):
    code = "no_text_column"


class ResumeMismatch(ScoringError):
    code = "resume_mismatch"


class OutputExists(ScoringError):
    code = "output_exists"
