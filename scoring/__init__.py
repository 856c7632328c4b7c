"""Batch scoring of survey exports: `pvoice score INPUT -o OUTPUT`, locally or on Ray."""

from pvoice.scoring.columns import TEXT_COLUMN_NAMES, find_text_column
from pvoice.scoring.engine import LocalEngine, appended_columns, cell_problem
from pvoice.scoring.errors import NoTextColumn, OutputExists, ResumeMismatch, ScoringError, UnsupportedFormat
from pvoice.scoring.pipeline import RunResult, ScoreJob, score_file
from pvoice.scoring.readers import Chunk, Source, open_source
from pvoice.scoring.summary import Summary
from pvoice.scoring.writers import Sink, open_sink

__all__ = [
    "TEXT_COLUMN_NAMES", "find_text_column", "LocalEngine", "appended_columns", "cell_problem",
    "NoTextColumn", "OutputExists", "ResumeMismatch", "ScoringError", "UnsupportedFormat",
    "RunResult", "ScoreJob", "score_file", "Chunk", "Source", "open_source", "Summary", "Sink", "open_sink",
]
