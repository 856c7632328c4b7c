// The case desk: polls its own rows, flags new urgent cases (banner, flashing row, a beep), and moves by keyboard.
(function () {
  "use strict";
  const desk = document.getElementById("desk");
  if (!desk) return;
  const tbody = document.getElementById("case-rows");
  const banner = document.getElementById("new-urgent");
  const sound = document.getElementById("sound");
  const seen = new Set((desk.dataset.ids || "").split(",").filter(Boolean).map(Number));
  const state = { cues: 0, polls: 0, selected: -1 };
  window.pvDesk = state;
  pv.setServerNow(desk.dataset.serverNow);
  pv.tick();

  // Web Audio: two short tones made in the page, no sound file to download. Browsers let a page play sound
  // only after the user has touched it, so the context is resumed on the first key or click.
  let audio = null;
  function context() {
    if (!audio && (window.AudioContext || window.webkitAudioContext)) {
      audio = new (window.AudioContext || window.webkitAudioContext)();
    }
    return audio;
  }
  ["keydown", "pointerdown"].forEach((type) => document.addEventListener(type, () => {
    const ctx = context();
    if (ctx && ctx.state === "suspended") ctx.resume();
  }, { once: true }));
  function beep() {
    const ctx = context();
    if (!ctx || !sound.checked) return;
    [0, 0.25].forEach((at) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, ctx.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + at + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + at);
      osc.stop(ctx.currentTime + at + 0.2);
    });
  }

  function cue(ids) {
    state.cues += 1;
    banner.hidden = false;
    banner.textContent = "有新的紧急工单：" + ids.map((id) => "#" + id).join("、") + "（按 Enter 打开第一个）";
    document.title = "（新紧急）工单台 · 患者之声";
    ids.forEach((id) => tbody.querySelector('tr[data-case-id="' + id + '"]')?.classList.add("flash-new"));
    beep();
    select(rows().findIndex((tr) => Number(tr.dataset.caseId) === ids[0]));
  }

  async function poll() {
    try {
      const body = await pv.fetchJSON("/app/api/cases?" + desk.dataset.query);
      state.polls += 1;
      const selectedId = rows()[state.selected]?.dataset.caseId;
      tbody.innerHTML = body.html;
      document.getElementById("case-count").textContent = body.count;
      document.getElementById("refreshed").textContent = "更新于 " + new Date().toLocaleTimeString("zh-CN");
      pv.setServerNow(body.now);
      pv.tick();
      const fresh = body.urgent_open.filter((id) => !seen.has(id));
      body.ids.forEach((id) => seen.add(id));
      state.selected = rows().findIndex((tr) => tr.dataset.caseId === selectedId);
      paint();
      if (fresh.length) cue(fresh);
    } catch (error) {
      document.getElementById("refreshed").textContent = "刷新失败：" + error.message;
    }
  }
  setInterval(poll, Number(desk.dataset.pollSeconds || 5) * 1000);

  function rows() { return Array.from(tbody.querySelectorAll("tr.case-row")); }
  function paint() {
    rows().forEach((tr, i) => tr.classList.toggle("selected", i === state.selected));
  }
  function select(i) {
    const all = rows();
    if (!all.length) return;
    state.selected = Math.max(0, Math.min(all.length - 1, i));
    paint();
    all[state.selected].focus();
  }
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "j" || event.key === "ArrowDown") { select(state.selected + 1); event.preventDefault(); }
    else if (event.key === "k" || event.key === "ArrowUp") { select(state.selected - 1); event.preventDefault(); }
    else if (event.key === "Enter" && state.selected >= 0) {
      rows()[state.selected]?.querySelector("a.case-link")?.click();
    }
    else if (event.key === "/") { document.querySelector("#filters select")?.focus(); event.preventDefault(); }
    else if (event.key === "r") { poll(); }
  });
  tbody.addEventListener("click", (event) => {
    const tr = event.target.closest("tr.case-row");
    if (tr) { state.selected = rows().indexOf(tr); paint(); }
  });
})();
