// patient-voice web app: what every page shares. No framework, nothing loaded from another host.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  // A JSON call to the app's own endpoints: the CSRF header on every call, and a lost session sends the user
  // to the login page instead of failing silently.
  async function fetchJSON(url, options = {}) {
    const headers = Object.assign({ "Accept": "application/json", "X-CSRF-Token": csrf }, options.headers || {});
    const response = await fetch(url, Object.assign({ credentials: "same-origin" }, options, { headers }));
    if (response.status === 401) {
      window.location.assign("/app/login?reason=expired&next=" + encodeURIComponent(location.pathname + location.search));
      throw new Error("signed out");
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error((body.error && body.error.message) || response.statusText);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  }

  // SLA countdowns: the server renders each one; this keeps them ticking between refreshes. `offset` is the
  // server's clock minus the browser's, so a wrong clock on the workstation does not move a deadline.
  let offset = 0;
  function setServerNow(iso) {
    const server = Date.parse(iso);
    if (!Number.isNaN(server)) offset = server - Date.now();
  }
  function span(ms) {
    let s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return d + "天" + h + "小时";
    if (h) return h + "小时" + m + "分";
    return m + "分" + String(s).padStart(2, "0") + "秒";
  }
  function tick() {
    const now = Date.now() + offset;
    document.querySelectorAll(".sla[data-due]").forEach((el) => {
      const left = Date.parse(el.dataset.due) - now;
      const verb = el.dataset.kind === "ack" ? "确认" : "答复";
      el.textContent = left < 0 ? verb + "已超时 " + span(left) : verb + "剩余 " + span(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && el.dataset.kind === "ack" && left <= 10 * 60 * 1000);
      el.classList.toggle("running", left >= 0 && !(el.dataset.kind === "ack" && left <= 10 * 60 * 1000));
    });
  }
  setInterval(tick, 1000);

  window.pv = { csrf, fetchJSON, setServerNow, tick };
})();
