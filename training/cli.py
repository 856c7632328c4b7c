"""Commands for data and training: `pvoice data ...`, `pvoice train`, `pvoice evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pvoice.settings import get_settings

data_app = typer.Typer(help="Inspect and validate the labeled corpus.", no_args_is_help=True)


@data_app.command("check")
def data_check(
    paths: Annotated[list[Path] | None, typer.Argument(help="JSONL files or directories (default: the corpus).")] = None,
    strict: Annotated[bool, typer.Option(help="Also fail when a corpus minimum is not met.")] = False,
    against: Annotated[list[Path] | None, typer.Option(
        help="Real-text evaluation set(s): fail when a corpus row repeats too much of one of their comments.")] = None,
) -> None:
    """Validate every row against the taxonomy; print counts, splits, the near-duplicate rate and the overlap with
    real-text sets."""
    from pvoice.training.corpus import read_corpus
    from pvoice.training.corpus_check import check_corpus, render_real_overlap, render_report

    report = check_corpus(paths or [get_settings().corpus_dir])
    typer.echo(render_report(report))
    problems = [f"{len(report.errors)} broken row(s)"] if report.errors else []
    for real in against or []:
        text, highest = render_real_overlap(report, real.name, read_corpus([real], require_channel=False, real_text=True))
        typer.echo(text)
        if highest > report.targets.max_real_overlap:
            problems.append(f"overlap with {real.name} {highest:.3f}")
    for error in report.errors:
        typer.echo(f"error: {error}", err=True)
    failed = [name for name, met, _ in report.minimums() if not met]
    if report.near_dup_rate > report.targets.max_near_duplicate_rate:
        problems.append(f"near-duplicate rate {report.near_dup_rate:.2%}")
    if strict and failed:
        problems.append(f"minimums not met: {', '.join(failed)}")
    if problems:
        typer.echo(f"corpus check failed: {'; '.join(problems)}", err=True)
        raise typer.Exit(1)
    typer.echo("corpus check passed")


@data_app.command("augment")
def data_augment(
    out: Annotated[Path, typer.Option("--out", help="JSONL file to (re)write.")] = Path("data/comments/augmented.jsonl"),
    share: Annotated[float, typer.Option(min=0.0, max=0.15, help="Share of the whole corpus to be augmented.")] = 0.11,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Join pairs of written comments about different touchpoints into multi-touchpoint rows."""
    import json

    from pvoice.settings import get_settings
    from pvoice.training.augment import augment
    from pvoice.training.corpus import corpus_files, read_corpus

    files = [f for f in corpus_files([get_settings().corpus_dir]) if f.resolve() != out.resolve()]
    written = [r for r in read_corpus(files) if r.source == "written"]
    n = round(share * len(written) / (1 - share))
    rows = augment(written, n, seed=seed)
    out.write_text("".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    typer.echo(f"wrote {len(rows)} augmented rows from {len(written)} written ones to {out}")


def _parse_train_args(argv: list[str]):
    """Flags, or one YAML/JSON file whose values become the defaults that later flags override."""
    import json

    import yaml
    from transformers import HfArgumentParser

    from pvoice.training.args import TrainArgs

    parser = HfArgumentParser(TrainArgs, prog="pvoice train")
    if argv and argv[0].endswith((".yaml", ".yml", ".json")):
        path = Path(argv.pop(0))
        text = path.read_text(encoding="utf-8")
        values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        known = {a.dest for a in parser._actions}
        unknown = sorted(set(values) - known)
        if unknown:
            raise typer.BadParameter(f"{path}: unknown training argument(s) {unknown}")
        parser.set_defaults(**values)
    (args,) = parser.parse_args_into_dataclasses(argv)
    return args


def _summary_line(split: str, m: dict) -> str:
    return (f"{split}: touchpoint micro-F1 {m['touchpoint_micro_f1']:.3f} macro-F1 {m['touchpoint_macro_f1']:.3f} | "
            f"aspect acc {m['aspect_accuracy']:.3f} | sentiment macro-F1 {m['sentiment_macro_f1']:.3f} | "
            f"urgency macro-F1 {m['urgency_macro_f1']:.3f} | urgent P {m['urgent_precision']:.3f} "
            f"R {m['urgent_recall']:.3f} (review band {m['review_band']}) | reasons micro-F1 "
            f"{m['reason_micro_f1']:.3f} | n {m['n']}")


def train_command(ctx: typer.Context) -> None:
    """Train a classifier: `pvoice train [CONFIG.yaml|json] [--flag value ...]` (all flags: `pvoice train -h`)."""
    from pvoice.training.trainer import train

    result = train(_parse_train_args(list(ctx.args)))
    typer.echo(f"saved {result.output_dir} after {result.epochs_run} epoch(s), {result.minutes:.1f} min")
    if result.reviewed.get("files"):
        left_out = result.reviewed["left_out"]
        typer.echo(f"reviewed rows added to training: {result.reviewed['rows']}"
                   + (f" ({left_out} left out: their text is in dev or test)" if left_out else ""))
    typer.echo(_summary_line("dev", result.dev))
    typer.echo(_summary_line("test", result.test))
    for name, metrics in result.real.items():
        typer.echo(_summary_line(f"{name} (real text)", metrics))


def _eval_sets(data: list[str]) -> dict[str, tuple[list, bool]]:
    """Named row sets: `split:dev` or `split:test` of the corpus, or labeled files (real text admitted)."""
    from pvoice.training.corpus import read_corpus
    from pvoice.training.data import split_rows

    sets, splits = {}, None
    for item in data:
        if item.startswith("split:"):
            splits = splits or split_rows(read_corpus([get_settings().corpus_dir]))
            name = item.split(":", 1)[1]
            if name not in splits:
                raise typer.BadParameter(f"unknown split {name!r}; valid: {', '.join(splits)}", param_hint="--data")
            sets[name] = (splits[name], False)
        else:
            rows = read_corpus([item], require_channel=False, real_text=True)
            sets[Path(item).stem] = (rows, any(r.source.startswith("http") for r in rows))
    return sets


def evaluate_command(
    data: Annotated[list[str], typer.Option("--data", help="Labeled set(s), each scored apart: a JSONL file in "
                                            "the corpus format (real text admitted), or split:dev / split:test.")],
    model: Annotated[Path | None, typer.Option("--model", help="Model directory (default: PVOICE_MODEL_DIR).")] = None,
    compare: Annotated[list[Path] | None, typer.Option("--compare", help="Other model(s) to report side by side.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the metrics as JSON here.")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write a markdown report with plots here "
                                                "(one folder per set when several are given).")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 32,
) -> None:
    """Score a model on one or more labeled sets; print the targets met or missed on each."""
    import json

    from pvoice.model.loading import load_classifier
    from pvoice.training.card import metrics_table
    from pvoice.training.evaluation import evaluate
    from pvoice.training.report import write_report
    from pvoice.training.targets import render_targets

    model_dir = model or get_settings().model_dir
    models = {str(model_dir): load_classifier(model_dir), **{str(o): load_classifier(o) for o in compare or []}}
    results: dict[str, dict[str, dict]] = {}
    for name, (rows, real) in _eval_sets(data).items():
        evals = {m: evaluate(clf, rows, batch_size) for m, clf in models.items()}
        results[name] = {m: ev.metrics for m, ev in evals.items()}
        typer.echo(f"\n## {name} ({len(rows)} rows{', real text' if real else ''})\n")
        typer.echo(metrics_table(results[name]))
        typer.echo(render_targets(evals[str(model_dir)].metrics, real=real))
        if report:
            where = report if len(data) == 1 else report / name
            title = f"Evaluation of {model_dir} on {name} ({len(rows)} rows)"
            typer.echo(f"report: {write_report(evals[str(model_dir)], where, title=title)}")
    if json_out:  # one set: its metrics (with `compare`: {"model", "compare"}); several: {set: {model: metrics}}
        payload = results
        if len(results) == 1:
            (columns,) = results.values()
            payload = columns[str(model_dir)] if not compare else {"model": columns[str(model_dir)], "compare": columns}
        json_out.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
