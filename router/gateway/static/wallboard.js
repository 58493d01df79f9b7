// The wallboard over /v1/supervisor: queues and agents, redrawn from every `stats` message.
// Credentials come from the form, or from ?supervisor=..&token=.. for a TV that nobody types on.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let creds = params.get("supervisor") && params.get("token")
    ? { supervisor: params.get("supervisor"), token: params.get("token") }
    : JSON.parse(sessionStorage.getItem("omniroute.wallboard") || "null");

  const conn = Omni.connect("/v1/supervisor", {
    status(text, ok) { $("conn").textContent = text; $("conn").className = "conn" + (ok ? " ok" : ""); },
    open() { if (creds) login(); },
    push(msg) {
      if (msg.type === "stats") draw(msg);
      else if (msg.type === "error") Omni.notify(Omni.errorText(msg));
    },
  });

  async function login() {
    try {
      const ack = await conn.call("login", creds);
      sessionStorage.setItem("omniroute.wallboard", JSON.stringify(creds));
      $("who").textContent = "— " + ack.supervisor;
      $("login-panel").hidden = true;
      $("board").hidden = false;
      Omni.notify("");
    } catch (err) {
      if (err.code === "disconnected") return;
      creds = null;
      sessionStorage.removeItem("omniroute.wallboard");
      $("login-panel").hidden = false;
      Omni.notify(Omni.errorText(err));
    }
  }

  function cell(value, attrs) { return Omni.el("td", attrs || {}, value); }

  function draw(stats) {
    $("updated").textContent = "updated " + new Date(stats.at * 1000).toLocaleTimeString();
    for (const s of ["available", "busy", "away", "offline"]) $("n-" + s).textContent = stats.agents_by_state[s] || 0;
    const today = stats.today || {};
    const pct = (x) => (x === null || x === undefined ? "–" : Math.round(100 * x) + "%");
    $("csat-today").textContent = pct(today.csat);
    $("fcr-today").textContent = pct(today.fcr);
    $("surveys-today").textContent = today.surveys || 0;

    const rows = [];
    for (const q of stats.queues) {
      const answered = q.answered_today || 0;
      const level = q.service_level_today;
      const levelText = answered && level !== null && level !== undefined
        ? Math.round(level * 100) + "% in " + q.target_seconds + " s" : "— (target " + q.target_seconds + " s)";
      rows.push(Omni.el("tr", { "data-queue": q.queue },
        Omni.el("th", { scope: "row" }, q.queue),
        cell(q.waiting, { class: "num", "data-testid": "wb-waiting-" + q.queue }),
        cell(Omni.duration(q.oldest_wait), { class: "num" }),
        cell(q.connected, { class: "num" }),
        cell(q.agents_available, { class: "num" }),
        cell(levelText, { class: "num" + (answered ? (level >= 0.8 ? " good" : " bad") : "") }),
        cell(answered, { class: "num", "data-testid": "wb-answered-" + q.queue }),
        cell(q.abandoned_today || 0, { class: "num" }),
        cell(q.asa_today !== null && q.asa_today !== undefined ? Omni.duration(q.asa_today) : "—", { class: "num" })));
    }
    $("queue-rows").replaceChildren(...rows);

    const agents = [];
    for (const a of stats.agents) {
      const busy = a.state === "available" && Object.values(a.load || {}).some((n) => n > 0);
      const shown = busy ? "busy" : a.state;
      const load = Object.entries(a.load || {}).filter(([, n]) => n > 0).map(([ch, n]) => ch + " " + n).join(", ");
      agents.push(Omni.el("tr", { "data-agent": a.id },
        cell(a.id), cell(a.name),
        Omni.el("td", {}, Omni.el("span", { class: "badge " + shown, "data-testid": "wb-state-" + a.id }, shown)),
        cell(a.reason || ""), cell(load || "—")));
    }
    $("agent-rows").replaceChildren(...agents);
  }

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    creds = { supervisor: $("sup-name").value.trim(), token: $("sup-token").value };
    login();
  });
})();
