"""Batch scoring of survey exports: `pvoice score INPUT -o OUTPUT`, locally or on Ray."""

from scoring.columns import TEXT_COLUMN_NAMES, find_text_column
from scoring.engine import LocalEngine, appended_columns, cell_problem
from scoring.errors import NoTextColumn, OutputExists, ResumeMismatch, ScoringError, UnsupportedFormat
from scoring.pipeline import RunResult, ScoreJob, score_file
from scoring.readers import Chunk, Source, open_source
from scoring.summary import Summary
from scoring.writers import Sink, open_sink

__all__ = [
    "TEXT_COLUMN_NAMES", "find_text_column", "LocalEngine", "appended_columns", "cell_problem",
    "NoTextColumn", "OutputExists", "ResumeMismatch", "ScoringError", "UnsupportedFormat",
    "RunResult", "ScoreJob", "score_file", "Chunk", "Source", "open_source", "Summary", "Sink", "open_sink",
]
