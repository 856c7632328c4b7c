// patient-voice: the managers' view page draws its charts from the data in the page.
(function () {
  "use strict";
  const el = document.getElementById("dashboard-data");
  if (el) window.pvCharts.draw(JSON.parse(el.textContent), { renderer: "canvas", links: true });
})();
