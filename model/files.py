"""Owner-only permissions for what the project writes: a fine-tuned model has read hospital comments and can
give some of them back, so it is kept like the database that holds them."""

from __future__ import annotations

import os
from pathlib import Path


def make_private(directory: Path) -> Path:
    """Directories 0700 and files 0600, from `directory` down; returns it."""
    directory.chmod(0o700)
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            (Path(root) / name).chmod(0o700)
        for name in files:
            (Path(root) / name).chmod(0o600)
    return directory
