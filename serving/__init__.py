"""The triage service: an API that classifies, stores and routes every comment (`pvoice serve`)."""

from pvoice.serving.main import create_app

__all__ = ["create_app"]
