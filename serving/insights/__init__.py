"""The managers' view (管理看板) and the weekly report: aggregate queries over the stored labels, spike detection,
keywords and exports. Modules are imported by name (`pvoice.serving.insights.queries`, ...): `facts` is used by
ingest and labeling, which the spike alerts in turn build on, so this package's own import stays empty."""
