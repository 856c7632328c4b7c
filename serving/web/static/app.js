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

  window.pv = { csrf, fetchJSON };
})();
