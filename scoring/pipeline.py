"""One scoring run: read in chunks, score, write, commit, count; resumable at every commit."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from pvoice.scoring.columns import find_text_column
from pvoice.scoring.engine import appended_columns
from pvoice.scoring.errors import OutputExists, ScoringError
from pvoice.scoring.readers import Source, format_of, open_source
from pvoice.scoring.resume import Progress, job_identity, progress_path
from pvoice.scoring.summary import Summary
from pvoice.scoring.writers import XLSX_MAX_ROWS, Sink, open_sink

# A test hook: called with a stage ("scored", "written", "committed") and the rows committed so far.
Hook = Callable[[str, int], None]


@dataclass
class ScoreJob:
    input: Path
    output: Path
    text_column: str | None = None
    model_dir: Path | None = None
    batch_size: int | None = None
    chunk_rows: int | None = None
    encoding: str | None = None
    resume: bool = False
    overwrite: bool = False
    engine: str | None = None  # "local", "pinned" or "ray"; None: the score_engine setting
    workers: int | None = None  # pinned engine: processes (default: score_workers, else one per usable core)
    ray_address: str | None = None
    ray_concurrency: int | None = None
    progress: bool | None = None  # None: a bar when stderr is a terminal
    hook: Hook | None = field(default=None, repr=False)


@dataclass
class RunResult:
    output: Path
    rows: int
    rows_this_run: int
    seconds: float
    summary: Summary
    text_column: str
    engine: str
    model_version: str


def _settings():
    from pvoice.settings import get_settings

    return get_settings()


def make_scoring_engine(job: ScoreJob, model_dir: Path, batch_size: int, classifier=None):
    settings = _settings()
    if job.engine == "ray":
        from pvoice.scoring.ray_engine import RayEngine

        return RayEngine(model_dir, batch_size, settings.score_max_text_chars,
                         address=job.ray_address or settings.ray_address,
                         concurrency=job.ray_concurrency or settings.ray_concurrency,
                         cpus_per_actor=settings.ray_cpus_per_actor)
    if job.engine == "pinned":
        from pvoice.scoring.pinned_engine import PinnedEngine

        return PinnedEngine(model_dir, batch_size, settings.score_max_text_chars,
                            workers=job.workers or settings.score_workers, runtime=settings.model_runtime)
    if job.engine != "local":
        raise ScoringError(f"unknown engine {job.engine!r}; valid: local, pinned, ray", code="unknown_engine")
    from pvoice.scoring.engine import LocalEngine

    if classifier is None:
        from pvoice.model.loading import load_classifier

        classifier = load_classifier(model_dir, threads=settings.torch_threads, runtime=settings.model_runtime)
    return LocalEngine(classifier, batch_size, settings.score_max_text_chars)


def _label_names(ids: list[str]) -> dict[str, str]:
    from pvoice.labels import TaxonomyError, load_taxonomy

    try:
        taxonomy = load_taxonomy()
    except TaxonomyError:
        return {}
    names = {}
    for label_id in ids:
        try:
            names[label_id] = taxonomy.name_of(label_id)
        except KeyError:
            pass
    return names


def _prepare_output(job: ScoreJob, source: Source, text_column: str, config) -> tuple[Progress | None, dict]:
    """The committed progress to resume from (None: a fresh run) and this job's identity."""
    output, state_file = Path(job.output), progress_path(Path(job.output))
    job_id = job_identity(source, text_column, output, config.model_version)
    if Path(job.input).resolve() == output.resolve():
        raise ScoringError("the output would overwrite the input; choose another -o", code="output_is_input")
    if job.resume and state_file.exists():
        progress = Progress.load(state_file)
        progress.check(job_id)
        return progress, job_id
    if state_file.exists() and not job.overwrite:
        done = Progress.load(state_file).rows_done
        raise OutputExists(f"{output} is an unfinished run ({done:,} rows committed): add --resume to continue it, "
                           "or --overwrite to start over", code="unfinished_output")
    if job.resume and output.exists():
        raise OutputExists(f"{output} exists and has no progress file (it is complete, or not from pvoice); "
                           "remove it or choose another -o", code="output_exists")
    return None, job_id


def _validate(job: ScoreJob, source: Source, config) -> list[tuple[str, str]]:
    """The appended columns, once the input and output are known to fit together."""
    appended = appended_columns(config.touchpoints)
    clash = sorted(set(source.columns) & {name for name, _ in appended})
    if clash:
        raise ScoringError(f"the input already has column(s) {clash} that scoring appends; is it scored already? "
                           "Rename or drop them first", code="column_clash")
    if format_of(Path(job.output)) == "xlsx" and (source.total or 0) >= XLSX_MAX_ROWS:
        raise ScoringError(f"{source.total:,} rows do not fit in one Excel sheet; write .csv or .parquet instead",
                           code="too_many_rows")
    return appended


def score_file(job: ScoreJob, classifier=None) -> RunResult:
    """Score every row of `job.input` into `job.output`; `classifier` skips loading one (tests)."""
    from pvoice.model.config import ClassifierConfig

    settings = _settings()
    t0 = time.perf_counter()
    format_of(Path(job.output))  # an unsupported output fails before any work
    source = open_source(Path(job.input), job.encoding)
    text_index = find_text_column(source.columns, job.text_column)
    model_dir = Path(job.model_dir or settings.model_dir)
    config = classifier.config if classifier is not None else ClassifierConfig.load(model_dir)
    appended = _validate(job, source, config)
    progress, job_id = _prepare_output(job, source, source.columns[text_index], config)
    # a resumed run keeps the first run's chunks and batches, so its forward passes see the same texts
    plan = progress.plan if progress else {"batch_size": job.batch_size or settings.score_batch_size,
                                           "chunk_rows": job.chunk_rows or settings.score_chunk_rows}
    summary = Summary(config.touchpoints, config.sentiments, settings.score_urgent_rows_cap,
                      _label_names(config.touchpoints + config.sentiments + config.urgency))
    if progress is not None:
        summary.load_state(progress.summary)
    done = progress.rows_done if progress else 0

    if job.engine is None:  # a classifier handed in runs in this process
        job = replace(job, engine="local" if classifier is not None else settings.score_engine)
    engine = make_scoring_engine(job, model_dir, plan["batch_size"], classifier)
    sink = open_sink(Path(job.output), source.columns, appended, progress.sink if progress else None)
    state_file = progress_path(Path(job.output))

    def commit(rows: int) -> None:
        Progress(job_id, plan, rows, sink.commit(), summary.state()).save(state_file)

    commit(done)
    try:
        rows = _run(job, source, text_index, engine, sink, summary, commit, done, plan["chunk_rows"])
        summary.blank_rows = source.blank_rows  # blank lines after the last row are read after its commit
        sink.finish()
    finally:
        sink.close()
        engine.close()
    state_file.unlink(missing_ok=True)
    return RunResult(Path(job.output), done + rows, rows, time.perf_counter() - t0, summary,
                     source.columns[text_index], engine.name, config.model_version)


def _run(job: ScoreJob, source: Source, text_index: int, engine, sink: Sink, summary: Summary,
         commit: Callable[[int], None], done: int, chunk_rows: int) -> int:
    from tqdm import tqdm

    hook = job.hook or (lambda stage, rows: None)
    disable = None if job.progress is None else not job.progress
    bar = tqdm(total=source.total, initial=done, unit=" rows", dynamic_ncols=True, disable=disable,
               desc=f"scoring {Path(job.input).name}", smoothing=0.1)
    rows_this_run = 0
    with bar:
        for chunk in source.chunks(chunk_rows, skip=done):
            texts = chunk.column(text_index)
            scores = engine.score(texts, chunk.problems)
            hook("scored", done)
            sink.write(chunk, scores)
            hook("written", done)
            for i, (text, values) in enumerate(zip(texts, scores)):
                summary.add(chunk.start + i + 1, text, values)
            done += len(chunk)
            rows_this_run += len(chunk)
            summary.blank_rows = source.blank_rows
            commit(done)
            hook("committed", done)
            bar.update(len(chunk))
        if bar.total is not None and bar.n != bar.total:
            bar.total = bar.n  # the line count was an upper bound (blank lines, multi-line cells)
            bar.refresh()
    return rows_this_run

