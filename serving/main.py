"""The FastAPI app: wiring only. `create_app(settings)` builds it; the lifespan loads the model once, opens the
database (applying or checking migrations), and runs the delivery and SLA workers until shutdown."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pvoice.labels import load_taxonomy
from pvoice.settings import Settings, get_settings
from pvoice.serving.alerts.channels import build_senders, close_senders
from pvoice.serving.api import ROUTERS
from pvoice.serving.api.deps import authenticate_header
from pvoice.serving.api.docs import install_docs
from pvoice.serving.api.guard import RequestGuard
from pvoice.serving.clock import Clock, SystemClock
from pvoice.serving.db import ensure_schema, make_db_engine, make_session_factory
from pvoice.serving.errors import ConfigError, install_error_handlers
from pvoice.serving.insights.facts import content_words
from pvoice.serving.masking import mask_pii
from pvoice.serving.metrics import Metrics
from pvoice.serving.routing import load_calendar, load_routing
from pvoice.serving.services import MicroBatcher, ServiceContext
from pvoice.serving.web import install_web, page_error
from pvoice.serving.workers import DeliveryWorker, SpikeWorker, TimerWorker

log = logging.getLogger("pvoice.serving")
DEV_SECRETS = {"api_key_pepper": "dev-pepper-not-secret", "patient_ref_salt": "dev-salt-not-secret"}


def check_secrets(settings: Settings) -> None:
    if settings.environment != "production":
        return
    unsafe = [name for name, value in DEV_SECRETS.items() if getattr(settings, name) == value]
    if unsafe:
        raise ConfigError(f"refusing to start in production with development secrets: set "
                          f"{', '.join('PVOICE_' + n.upper() for n in unsafe)}")
    if not settings.session_cookie_secure:
        raise ConfigError("refusing to start in production with PVOICE_SESSION_COOKIE_SECURE=false: the web "
                          "session cookie must travel over HTTPS only")


def _service_classifier(settings: Settings):
    from pvoice.model.config import CONFIG_NAME
    from pvoice.model.loading import load_classifier

    if not (settings.model_dir / CONFIG_NAME).exists():
        raise ConfigError(f"no model at {settings.model_dir} — train one with `make model`, or set PVOICE_MODEL_DIR")
    return load_classifier(settings.model_dir, threads=settings.torch_threads, runtime=settings.model_runtime)


def preflight(settings: Settings):
    """Everything the start-up needs, tried before the server starts, so that a bad setting is one error line
    of the CLI rather than a traceback inside the server's log; returns the loaded classifier."""
    check_secrets(settings)
    taxonomy = load_taxonomy(settings.taxonomy_path)
    load_routing(settings.routing_path, touchpoints=taxonomy.touchpoint_ids, timezone=settings.timezone)
    engine = make_db_engine(settings.database_url)
    try:
        ensure_schema(engine, auto_upgrade=settings.db_auto_upgrade)
    finally:
        engine.dispose()
    return _service_classifier(settings)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, senders: dict | None = None,
               classifier=None, start_workers: bool = True) -> FastAPI:
    """`senders` and `classifier` replace the configured ones (tests); `start_workers=False` leaves the
    delivery and SLA loops to the caller (tests drive them step by step)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        check_secrets(settings)
        taxonomy = load_taxonomy(settings.taxonomy_path)
        routing = load_routing(settings.routing_path, touchpoints=taxonomy.touchpoint_ids, timezone=settings.timezone)
        engine = make_db_engine(settings.database_url)
        ensure_schema(engine, auto_upgrade=settings.db_auto_upgrade)
        ctx = ServiceContext(settings=settings, taxonomy=taxonomy, routing=routing, clock=clock or SystemClock(),
                             factory=make_session_factory(engine), calendar=load_calendar(settings.holidays_path))
        metrics = Metrics()
        metrics.watch_database(ctx.factory)
        batcher = MicroBatcher(classifier or _service_classifier(settings), window_ms=settings.microbatch_window_ms,
                               max_texts=settings.microbatch_max_texts, on_call=metrics.count_model_call)
        channel_senders = senders if senders is not None else build_senders(settings)
        delivery = DeliveryWorker(ctx, channel_senders, metrics, poll_seconds=settings.outbox_poll_seconds)
        timers = TimerWorker(ctx, metrics, poll_seconds=settings.timers_poll_seconds)
        spikes = SpikeWorker(ctx, poll_seconds=settings.spike_check_seconds)
        ctx.notify = delivery.notify
        app.state.ctx, app.state.metrics, app.state.batcher = ctx, metrics, batcher
        app.state.delivery, app.state.timers, app.state.spikes = delivery, timers, spikes
        await batcher.start()
        # the name tagger behind masking and the keyword cutter (jieba's IDF table) load once (a second or
        # two): at startup, not in the first request
        await asyncio.to_thread(mask_pii, "李医生")
        await asyncio.to_thread(content_words, "挂号排队")
        workers = [delivery, timers, spikes] if start_workers else []
        for worker in workers:
            await worker.start()
        log.info("triage service ready", extra={"model": batcher.model_version, "routes": len(routing.routes)})
        try:
            yield
        finally:
            for worker in workers:
                await worker.stop()
            if not start_workers:
                delivery.close()
            await batcher.stop()
            app.state.batcher = None
            if senders is None:
                close_senders(channel_senders)
            engine.dispose()

    app = FastAPI(title="patient-voice triage", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Classify, store and route patient comments; alert and escalate until someone "
                              "acknowledges. Authenticate with `Authorization: Bearer KEY`.")
    install_error_handlers(app, pages=page_error)
    app.add_middleware(RequestGuard, authenticate=authenticate_header, max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s, metrics=lambda: getattr(app.state, "metrics", None))
    for router in ROUTERS:
        app.include_router(router)
    install_docs(app, ROUTERS)
    install_web(app)

    return app


def app_from_environment() -> FastAPI:
    """The app of one worker process of `pvoice serve --workers N`, configured from the environment."""
    from pvoice.serving.logs import configure_logging

    settings = get_settings()
    configure_logging(json_logs=settings.log_json, level=settings.log_level)
    return create_app(settings)
