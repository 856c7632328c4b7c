// patient-voice: the managers' view's charts (the page and the weekly report draw the same ones). It draws the
// data the server prepared and, on the page, follows the drill-down link the server put behind each cell and
// bar: no counting and no rule here. Needs ECharts (vendor/echarts.min.js, installed from npm).
(function () {
  "use strict";
  const RED = "#c62828", AMBER = "#e0a800", GREEN = "#2e7d32", GREY = "#98a2b3";
  const font = { fontFamily: '"PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif' };

  function chart(id, options, renderer) {
    const el = document.getElementById(id);
    if (!el) return null;
    const c = echarts.init(el, null, { renderer: renderer });
    c.setOption(Object.assign({ animation: false, textStyle: font }, options));
    return c;
  }

  function follow(c, linkOf) {
    if (!c) return;
    c.on("click", (p) => {
      const link = linkOf(p);
      if (link) window.location.assign(link);
    });
  }

  function draw(data, opts) {
    const renderer = (opts && opts.renderer) || "canvas";
    const links = !opts || opts.links !== false;
    const drawn = {};
    const h = data.heatmap;
    drawn.heatmap = chart("chart-heatmap", {
      tooltip: { position: "top", formatter: (p) => h.y[p.data[1]] + " · " + h.x[p.data[0]] + "：" + p.data[2] + " 条" },
      grid: { left: 90, right: 20, top: 10, bottom: 70 },
      xAxis: { type: "category", data: h.x, splitArea: { show: true } },
      yAxis: { type: "category", data: h.y, inverse: true, splitArea: { show: true } },
      visualMap: { min: 0, max: Math.max(1, h.max), calculable: true, orient: "horizontal", left: "center", bottom: 0,
                   inRange: { color: ["#f7fbff", "#9ecae1", "#2171b5"] } },
      series: [{ type: "heatmap", data: h.data, label: { show: true }, emphasis: { itemStyle: { borderColor: "#333", borderWidth: 1 } } }],
    }, renderer);
    if (links) follow(drawn.heatmap, (p) => p.data && h.links[p.data[1]][p.data[0]]);

    const t = data.trend;
    drawn.trend = chart("chart-trend", {
      tooltip: { trigger: "item" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 40, right: 20, top: 40, bottom: 30 },
      xAxis: { type: "category", data: t.weeks },
      yAxis: { type: "value", minInterval: 1, name: "负面" },
      series: t.series.map((s) => ({ name: s.name, type: "line", data: s.data, symbolSize: 8 })),
    }, renderer);
    if (links) follow(drawn.trend, (p) => t.series[p.seriesIndex] && t.series[p.seriesIndex].links[p.dataIndex]);

    const u = data.urgent;
    drawn.urgent = chart("chart-urgent", {
      tooltip: { trigger: "item" },
      grid: { left: 90, right: 30, top: 10, bottom: 20 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: u.reasons, inverse: true },
      series: [{ type: "bar", data: u.data, itemStyle: { color: RED }, label: { show: true, position: "right" } }],
    }, renderer);
    if (links) follow(drawn.urgent, (p) => u.links[p.dataIndex]);

    const s = data.sla;
    const colors = { met: GREEN, missed: RED, pending: GREY };
    drawn.sla = chart("chart-sla", {
      tooltip: { trigger: "item" },
      legend: { top: 0 },
      grid: { left: 170, right: 30, top: 30, bottom: 20 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: s.categories, inverse: true },
      series: s.statuses.map((st) => ({ name: st.name, type: "bar", stack: "sla", data: st.data, barMaxWidth: 36,
                                        itemStyle: { color: colors[st.status] },
                                        label: { show: true, formatter: (p) => (p.value ? String(p.value) : "") } })),
    }, renderer);
    if (links) follow(drawn.sla, (p) => s.statuses[p.seriesIndex] && s.statuses[p.seriesIndex].links[p.dataIndex]);

    window.addEventListener("resize", () => Object.values(drawn).forEach((c) => c && c.resize()));
    document.documentElement.dataset.chartsReady = "true";  // for the report's PDF printer and the tests
    return drawn;
  }

  window.pvCharts = { draw: draw };
})();
