"""/app/dashboard: the managers' view (管理看板) for a period, department and channel; its drill-downs to the
comments behind a cell or bar, and the export of any of its tables. Everything loads through
`pvoice.serving.insights` (the aggregates, the same for the weekly report); the routes check the filter, call,
and render."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from pvoice.serving.api.deps import BatcherDep, ContextDep
from pvoice.serving.errors import InvalidInput
from pvoice.serving.insights import export
from pvoice.serving.insights.drilldown import DRILL_LIMIT, drilldown, explain_missing, parse_cell
from pvoice.serving.insights.filters import make_filter
from pvoice.serving.insights.queries import departments
from pvoice.serving.insights.view import TABLES, load_dashboard
from pvoice.serving.services.auth import Perm, Principal
from pvoice.serving.web import charts
from pvoice.serving.web.deps import PageAllowed
from pvoice.serving.web.errors import page_message
from pvoice.serving.web.highlight import highlight
from pvoice.serving.web.pages import render
from pvoice.serving.web.views import label_name

router = APIRouter(prefix="/app", include_in_schema=False)
FILTERS = ("start", "end", "week", "department", "channel")
# a drill-down's `week` is the Monday of the clicked trend point or spike, not the filter's ISO week: its links
# (charts.drill_link) carry the period as start and end
DRILL_FILTERS = tuple(k for k in FILTERS if k != "week")


def _filter(request: Request, ctx, session, names: tuple[str, ...] = FILTERS):
    """(the filter as typed, the known departments, the checked filter); InvalidInput names a bad value."""
    typed = {k: request.query_params.get(k, "") for k in names}
    known = departments(session)
    today = ctx.clock.now().astimezone(ctx.routing.zone).date()
    return typed, known, make_filter(zone=ctx.routing.zone, taxonomy=ctx.taxonomy, departments=known, today=today,
                                     **typed)


def _masked(who: Principal) -> bool:
    return not who.can(Perm.pii_read)


@router.get("/dashboard", response_class=HTMLResponse, summary="The managers' view")
def dashboard(request: Request, ctx: ContextDep, who: PageAllowed(Perm.insights_read)) -> HTMLResponse:
    with ctx.factory() as session:
        typed, known, problem, view = {}, [], None, None
        try:
            typed, known, f = _filter(request, ctx, session)
            view = load_dashboard(session, f=f, taxonomy=ctx.taxonomy, settings=ctx.settings, now=ctx.clock.now(),
                                  mask=_masked(who))
        except InvalidInput as error:
            problem = {"field": error.field, "message": page_message(request, error)}
            typed = typed or {k: request.query_params.get(k, "") for k in FILTERS}
            known = known or departments(session)
    context = dict(typed=typed, departments=known, channels=[(c, label_name(ctx.taxonomy, c))
                                                             for c in ctx.taxonomy.channel_ids],
                   problem=problem, view=view, taxonomy=ctx.taxonomy)
    if view is None:
        return render(request, "dashboard.html", status=422, **context)
    f = view.filter
    return render(request, "dashboard.html", **context, chart_data=charts.chart_data(view, ctx.taxonomy),
                  tables=charts.tables(view, ctx.taxonomy), keywords=charts.keyword_lists(view, ctx.taxonomy),
                  spikes=charts.spike_rows(view, ctx.taxonomy), period_label=str(f.period),
                  previous_label=str(f.period.previous()), history_weeks=ctx.settings.spike_history_weeks,
                  exports={t: {fmt: charts.export_link(f, t, fmt) for fmt in export.FORMATS} for t in TABLES})


@router.get("/dashboard/drill", response_class=HTMLResponse, summary="The comments behind a cell or bar")
async def drill(request: Request, ctx: ContextDep, batcher: BatcherDep, who: PageAllowed(Perm.insights_read),
                offset: int = 0) -> HTMLResponse:
    params = request.query_params
    cell = parse_cell(ctx.taxonomy, kind=params.get("kind"), touchpoint=params.get("touchpoint"),
                      sentiment=params.get("sentiment"), week=params.get("week"), word=params.get("word"),
                      reason=params.get("reason"), measure=params.get("measure"), urgency=params.get("urgency"),
                      status=params.get("status"))
    if offset < 0 or offset > 1_000_000:
        raise InvalidInput("offset: must be between 0 and 1000000", field="offset")

    def load():
        with ctx.factory() as session:
            _, _, f = _filter(request, ctx, session, DRILL_FILTERS)
            return f, drilldown(session, f, cell, mask=_masked(who), now=ctx.clock.now(), limit=DRILL_LIMIT,
                                offset=offset)

    f, page = await run_in_threadpool(load)
    # evidence is kept for cases only when PVOICE_CASE_EVIDENCE is on: the comments shown without it get it now
    if await explain_missing(ctx, batcher, [i.comment_id for i in page.items if not i.has_evidence]):
        f, page = await run_in_threadpool(load)
    items = [(item, highlight(item.text, item.spans)) for item in page.items]
    return render(request, "dashboard_drill.html", cell=cell, page=page, items=items, filter=f,
                  title=charts.cell_title(cell, ctx.taxonomy), period_label=str(f.period),
                  back=f"/app/dashboard?{charts.query_string(f)}", taxonomy=ctx.taxonomy,
                  more=charts.drill_link(f, cell) + f"&offset={offset + DRILL_LIMIT}"
                  if offset + DRILL_LIMIT < page.total else None,
                  name=lambda i: label_name(ctx.taxonomy, i))


@router.get("/dashboard/export", summary="A table of the managers' view as CSV or XLSX")
def export_table(request: Request, ctx: ContextDep, who: PageAllowed(Perm.insights_read), table: str = "",
                 format: str = "csv") -> Response:  # noqa: A002 - the query parameter's name
    if table not in TABLES:
        raise InvalidInput(f"table: unknown table {table!r}; valid: {', '.join(TABLES)}", field="table")
    fmt = export.check_format(format)
    with ctx.factory() as session:
        _, _, f = _filter(request, ctx, session)
        view = load_dashboard(session, f=f, taxonomy=ctx.taxonomy, settings=ctx.settings, now=ctx.clock.now(),
                              mask=_masked(who), parts=(table,))
    data = view.table(table, ctx.taxonomy)
    name = export.file_name(data, fmt, str(f.period))
    return Response(export.render(data, fmt), media_type=export.FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
