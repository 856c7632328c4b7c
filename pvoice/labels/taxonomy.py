"""The one loader of the taxonomy (`data/taxonomy.yaml`, shipped as package data of `pvoice.data`)."""

from __future__ import annotations

import os
from importlib.resources import files
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from pvoice.settings import get_settings

SECTIONS = ("touchpoints", "sentiments", "urgency", "urgent_reasons", "channels")


class TaxonomyError(ValueError):
    """The taxonomy file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    description: str = ""
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """Label sets in their canonical order; the order defines class indices."""

    touchpoints: tuple[Label, ...]
    sentiments: tuple[Label, ...]
    urgency: tuple[Label, ...]
    urgent_reasons: tuple[Label, ...]
    channels: tuple[Label, ...]
    version: int = 1
    path: Path | None = field(default=None, compare=False)

    @property
    def touchpoint_ids(self) -> list[str]:
        return [label.id for label in self.touchpoints]

    @property
    def sentiment_ids(self) -> list[str]:
        return [label.id for label in self.sentiments]

    @property
    def urgency_ids(self) -> list[str]:
        return [label.id for label in self.urgency]

    @property
    def reason_ids(self) -> list[str]:
        return [label.id for label in self.urgent_reasons]

    @property
    def channel_ids(self) -> list[str]:
        return [label.id for label in self.channels]

    def name_of(self, label_id: str) -> str:
        for section in SECTIONS:
            for label in getattr(self, section):
                if label.id == label_id:
                    return label.name
        raise KeyError(label_id)

    def label_maps(self) -> dict[str, list[str]]:
        """Id lists per head, as saved in a model's config."""
        return {
            "touchpoints": self.touchpoint_ids,
            "sentiments": self.sentiment_ids,
            "urgency": self.urgency_ids,
            "urgent_reasons": self.reason_ids,
        }


def _parse_section(raw: dict, section: str, source: Path) -> tuple[Label, ...]:
    entries = raw.get(section)
    if not isinstance(entries, list) or not entries:
        raise TaxonomyError(f"{source}: section '{section}' must be a non-empty list")
    labels, seen = [], set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("name"):
            raise TaxonomyError(f"{source}: {section}[{i}] needs 'id' and 'name'")
        if entry["id"] in seen:
            raise TaxonomyError(f"{source}: duplicate id '{entry['id']}' in {section}")
        seen.add(entry["id"])
        labels.append(
            Label(
                id=str(entry["id"]),
                name=str(entry["name"]),
                description=str(entry.get("description", "")),
                cues=tuple(str(c) for c in entry.get("cues", ())),
            )
        )
    return tuple(labels)


def parse_taxonomy(path: Path) -> Taxonomy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaxonomyError(f"taxonomy file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{path}: expected a mapping at the top level")
    sections = {s: _parse_section(raw, s, path) for s in SECTIONS}
    return Taxonomy(**sections, version=int(raw.get("version", 1)), path=path)


@lru_cache(maxsize=8)
def _load_cached(path: str) -> Taxonomy:
    return parse_taxonomy(Path(path))


def packaged_taxonomy_path() -> Path:
    """The taxonomy installed with the package (the checkout's `data/taxonomy.yaml` in development)."""
    return Path(str(files("pvoice.data").joinpath("taxonomy.yaml")))


def load_taxonomy(path: str | os.PathLike | None = None) -> Taxonomy:
    """Load (once) the taxonomy at `path`, else the one the settings name (`PVOICE_TAXONOMY_PATH`), else the
    packaged one."""
    chosen = path or get_settings().taxonomy_path or packaged_taxonomy_path()
    return _load_cached(str(Path(chosen).resolve()))
