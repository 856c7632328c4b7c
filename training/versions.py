"""Library versions recorded in every saved model."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

LIBRARIES = ("patient-voice", "torch", "transformers", "tokenizers", "scikit-learn", "jieba")


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
