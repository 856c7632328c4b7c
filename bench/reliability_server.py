"""The service as `pvoice serve` runs it (uvicorn, one process, the settings from PVOICE_*), with two bench-only
changes: the scripted classifier of the tests (a marker of bench/reliability_support.LANES makes a comment
urgent on that lane's touchpoint; everything else is none), and a clock that may run faster than real time.

Usage: python bench/reliability_server.py --port PORT [--clock-scale 60 --anchor UNIX_TIME]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # serving_support: the tests' scripted classifier, reused as is

from reliability_support import LANES  # noqa: E402
from serving_support import Rule, ScriptedClassifier  # noqa: E402


class ScaledClock:
    """`scale` times real time since `anchor`: with 60, ten minutes of the service's time pass in ten seconds.
    The anchor is fixed by the bench, so a restarted server goes on from where the killed one was."""

    def __init__(self, scale: float, anchor: float):
        self.scale, self.anchor = scale, anchor

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.anchor + (time.time() - self.anchor) * self.scale, timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clock-scale", type=float, default=1.0)
    parser.add_argument("--anchor", type=float, default=None)
    args = parser.parse_args()

    import uvicorn

    from pvoice.model.predictor import Classifier
    from pvoice.serving.logs import configure_logging
    from pvoice.serving.main import create_app
    from pvoice.settings import get_settings

    settings = get_settings()
    configure_logging(json_logs=settings.log_json, level=settings.log_level)
    rules = tuple(Rule(marker, "urgent", (touchpoint,), urgent_reasons=("safety",))
                  for marker, touchpoint in LANES.values())
    classifier = ScriptedClassifier(Classifier.from_pretrained(settings.model_dir), rules)
    clock = ScaledClock(args.clock_scale, args.anchor if args.anchor is not None else time.time())
    uvicorn.run(create_app(settings, clock=clock, classifier=classifier), host=args.host, port=args.port,
                log_config=None, access_log=False)


if __name__ == "__main__":
    main()
