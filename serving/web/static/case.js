// A case's page: its SLA countdown ticks (app.js); Escape goes back to the desk.
(function () {
  "use strict";
  pv.setServerNow(document.getElementById("case-page")?.dataset.serverNow || "");
  pv.tick();
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.target.closest("input, select, textarea")) {
      window.location.assign("/app/cases");
    }
  });
})();
