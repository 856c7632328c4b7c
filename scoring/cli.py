"""`pvoice score INPUT -o OUTPUT`: score every row of a survey export and summarise it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

# Rows listed under "Urgent rows" in the terminal; the --summary file lists them all (up to the cap).
URGENT_ROWS_PRINTED = 20


class EngineName(str, Enum):
    local = "local"
    pinned = "pinned"
    ray = "ray"


def score_command(
    input: Annotated[Path, typer.Argument(help="CSV/TSV (UTF-8, GBK/GB18030), XLSX, JSONL or Parquet export.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file; its extension sets its format.")],
    text_column: Annotated[str | None, typer.Option(help="Column with the comments (default: found by name).")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="Model directory (default: PVOICE_MODEL_DIR).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Texts per forward pass.")] = None,
    chunk_rows: Annotated[int | None, typer.Option(min=1, help="Rows read, scored and committed at a time.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run into the same OUTPUT.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Start over even though OUTPUT is an unfinished run.")] = False,
    summary: Annotated[Path | None, typer.Option(help="Also write the summary to this markdown file.")] = None,
    engine: Annotated[EngineName | None, typer.Option(help="local: this process; pinned: one process per core; ray: "
                                                           "Ray Data actors (default: PVOICE_SCORE_ENGINE).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Pinned engine's processes (default: one per core).")
                       ] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster to join (default: start a local one).")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Ray scoring actors (default: one per CPU).")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding of CSV/TSV/JSONL (default: detected).")] = None,
    progress: Annotated[bool | None, typer.Option(help="Show a progress bar (default: on a terminal).")] = None,
) -> None:
    """Score every row of INPUT into OUTPUT: the input's columns unchanged, then the model's labels."""
    from pvoice.scoring.pipeline import ScoreJob, score_file
    from pvoice.scoring.resume import Progress, progress_path

    job = ScoreJob(input=input, output=output, text_column=text_column, model_dir=model, batch_size=batch_size,
                   chunk_rows=chunk_rows, encoding=encoding, resume=resume, overwrite=overwrite,
                   engine=engine.value if engine else None, workers=workers, ray_address=ray_address, ray_concurrency=concurrency, progress=progress)
    try:
        result = score_file(job)
    except KeyboardInterrupt:
        state = progress_path(output)
        done = Progress.load(state).rows_done if state.exists() else 0
        typer.echo(f"\ninterrupted: {done:,} rows committed to {output}. Run the same command with --resume to "
                   "continue.", err=True)
        raise typer.Exit(130) from None
    header = render_header(input, result)
    typer.echo(result.summary.render(URGENT_ROWS_PRINTED, header=header))
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(result.summary.render(header=header), encoding="utf-8")
        typer.echo(f"summary written to {summary}")


def render_header(input: Path, result) -> str:
    rate = result.rows_this_run / result.seconds if result.seconds else 0.0
    return (f"# Scoring summary: {input.name}\n\n"
            f"- output: {result.output} (text column: {result.text_column})\n"
            f"- model: {result.model_version or 'unversioned'}; engine: {result.engine}; "
            f"{result.rows_this_run:,} rows in {result.seconds:.1f} s ({rate:,.1f} rows/s)"
            + (f", resumed after {result.rows - result.rows_this_run:,} rows" if result.rows > result.rows_this_run
               else ""))

