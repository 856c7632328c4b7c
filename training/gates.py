"""The gates a faster model must pass against the model it replaces, on the test split and on real text.

A student, or an int8 graph, may lose at most `MAX_LOSS` on each quality head and nothing on urgent recall at
the paging threshold: a missed page can cost a patient, a point of aspect accuracy cannot."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MAX_LOSS = {"touchpoint_micro_f1": 0.01, "aspect_accuracy": 0.01, "sentiment_macro_f1": 0.01,
            "reason_micro_f1": 0.01, "urgent_recall": 0.0}


@dataclass
class GateResult:
    candidate: str
    reference: str
    # per evaluation set, per metric: (reference, candidate, passed)
    checks: dict[str, dict[str, tuple[float, float, bool]]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(ok for per_set in self.checks.values() for _, _, ok in per_set.values())

    def failures(self) -> list[str]:
        return [f"{name} {metric} {ref:.3f} → {cand:.3f}" for name, per_set in self.checks.items()
                for metric, (ref, cand, ok) in per_set.items() if not ok]

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def check_gates(reference: dict[str, dict], candidate: dict[str, dict], *, reference_name: str,
                candidate_name: str) -> GateResult:
    """`reference` and `candidate`: metrics per evaluation set (e.g. "test", "real_dev"), same rows."""
    result = GateResult(candidate_name, reference_name)
    for name, ref in reference.items():
        cand = candidate[name]
        result.checks[name] = {
            metric: (round(ref[metric], 4), round(cand[metric], 4), cand[metric] >= ref[metric] - loss - 1e-9)
            for metric, loss in MAX_LOSS.items()}
    return result


def evaluate_sets(classifier, sets: dict[str, list]) -> dict[str, dict]:
    """The gates' metrics of one classifier on each named set of corpus rows."""
    from pvoice.training.evaluation import evaluate

    return {name: evaluate(classifier, rows).metrics for name, rows in sets.items()}


def gate_sets(corpus_paths, real_paths) -> dict[str, list]:
    """The test split of the corpus and each real-text file, by name."""
    from pathlib import Path

    from pvoice.labels import load_taxonomy
    from pvoice.training.corpus import read_corpus
    from pvoice.training.data import split_rows

    tax = load_taxonomy()
    sets = {"test": split_rows(read_corpus(corpus_paths, tax))["test"]}
    for p in real_paths:
        sets[Path(p).stem] = read_corpus([p], tax, require_channel=False, real_text=True)
    return sets
