"""Application glue of patient-voice: settings and the `pvoice` command."""

from pvoice.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
