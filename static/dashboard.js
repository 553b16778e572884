// pyrowire dashboard script, served at GET /dashboard/static/dashboard.js (see
// static/dashboard.html). A file of its own, not inline, so the page's Content-Security-Policy
// can forbid inline scripts; it must not set style attributes either (style-src 'self').
"use strict";
(function () {
  const REFRESH_MS = 2000;
  const TOKEN_KEY = "pyrowire.dashboard.token";
  const FIELDS = ["queue_depth", "in_flight", "bulk_depth", "completed", "dead_lettered", "events_backlog",
    "events_dropped", "sessions"];
  const SVG_NS = "http://www.w3.org/2000/svg";
  // API paths are relative to the page, so the dashboard also works behind a path prefix.
  const base = location.pathname.replace(/\/+$/, "");

  const el = (id) => document.getElementById(id);
  const topicsBox = el("topics");
  const cards = new Map();          // topic name -> {root, parts, sigs}
  let memoryToken = null;           // fallback when sessionStorage is unavailable
  let timer = null, inFlight = false, again = false, fetchSeq = 0;
  // Rows re-queued successfully stay hidden until an overview requested after the POST arrives,
  // so a refresh that was already on the wire does not bring them back for a moment.
  const hiddenUntil = new Map();    // "topic\nsid" -> fetchSeq

  // ---- token ---------------------------------------------------------------------------------
  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || memoryToken; } catch (e) { return memoryToken; }
  }
  function setToken(token) {
    memoryToken = token;
    try { if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* memory only */ }
  }
  function takeTokenFromFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const token = params.get("token");
    if (token) {
      setToken(token);
      // Drop the token from the address bar and history.
      history.replaceState(null, "", location.pathname + location.search);
    }
  }
  function showLogin(message, isError) {
    stopTimer();
    const msg = el("login-message");
    msg.textContent = message;
    msg.className = isError ? "error" : "";
    el("login").hidden = false;
    el("logout").hidden = true;
    el("token-input").value = "";
    el("token-input").focus();
    setStatus(isError ? "not signed in" : "waiting for token");
  }
  el("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = el("token-input").value.trim();
    if (!token) return;
    setToken(token);
    el("login").hidden = true;
    refreshNow();
  });
  el("logout").addEventListener("click", () => {
    setToken(null);
    showLogin("Token forgotten. Enter the dashboard token to continue.", false);
  });
  window.addEventListener("hashchange", () => {
    takeTokenFromFragment();
    if (getToken()) { el("login").hidden = true; refreshNow(); }
  });

  // ---- API -----------------------------------------------------------------------------------
  class Unauthorized extends Error {}
  async function api(method, path) {
    const response = await fetch(base + path, {
      method,
      cache: "no-store",
      headers: { "Authorization": "Bearer " + getToken(), "Accept": "application/json" },
    });
    if (response.status === 401) throw new Unauthorized("HTTP 401");
    let body = null;
    const text = await response.text();
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    return { status: response.status, body, text };
  }
  function describeFailure(result) {
    const detail = result.body && typeof result.body.error === "string" ? result.body.error : result.text.slice(0, 200);
    return "HTTP " + result.status + (detail ? ": " + detail : "");
  }

  // ---- refresh loop --------------------------------------------------------------------------
  function stopTimer() { if (timer) { clearTimeout(timer); timer = null; } }
  function refreshNow() {
    stopTimer();
    if (inFlight) { again = true; return; }
    refresh();
  }
  async function refresh() {
    if (!getToken()) { showLogin("Enter the token set as dashboard_token in the profile.", false); return; }
    inFlight = true;
    const seq = ++fetchSeq;
    try {
      const result = await api("GET", "/api/overview");
      if (result.status !== 200 || !result.body || !Array.isArray(result.body.topics)) {
        throw new Error("the overview request failed (" + describeFailure(result) + ")");
      }
      render(result.body, seq);
      el("error-banner").hidden = true;
      el("login").hidden = true;
      el("logout").hidden = false;
      setStatus("updated " + clock(new Date()));
    } catch (error) {
      if (error instanceof Unauthorized) {
        setToken(null);
        inFlight = false;
        again = false;
        showLogin("The token was not accepted (HTTP 401). Enter the dashboard_token of this profile.", true);
        return;
      }
      const banner = el("error-banner");
      banner.textContent = "Refresh failed at " + clock(new Date()) + ": " +
        (error instanceof TypeError ? "cannot reach the server" : error.message) +
        ". Showing the last data received; retrying every " + REFRESH_MS / 1000 + " s.";
      banner.hidden = false;
    } finally {
      inFlight = false;
    }
    if (again) { again = false; refresh(); return; }
    if (getToken()) timer = setTimeout(refresh, REFRESH_MS);
  }
  function setStatus(text) { el("status").textContent = text; }

  // ---- rendering -----------------------------------------------------------------------------
  function render(overview, seq) {
    const seen = new Set();
    for (const topic of overview.topics) {
      seen.add(topic.name);
      let card = cards.get(topic.name);
      if (!card) { card = makeCard(topic.name); cards.set(topic.name, card); }
      topicsBox.appendChild(card.root);   // keeps cards in the server's order
      renderCard(card, topic, overview.generated_at, seq);
    }
    for (const [name, card] of cards) {
      if (!seen.has(name)) { card.root.remove(); cards.delete(name); }
    }
    el("no-topics").hidden = overview.topics.length > 0;
    for (const [key, until] of hiddenUntil) { if (seq > until) hiddenUntil.delete(key); }
  }

  function makeCard(name) {
    const root = el("topic-template").content.firstElementChild.cloneNode(true);
    root.dataset.topic = name;
    const part = (role) => root.querySelector('[data-role="' + role + '"]');
    part("name").textContent = name;
    const parts = { notice: part("notice"), deadStat: part("dead-stat"), eventsStat: part("events-stat"),
      droppedStat: part("dropped-stat"), chart: part("chart"),
      deadCount: part("dead-count"), recentCount: part("recent-count"),
      deadBody: part("dead-table").tBodies[0], recentBody: part("recent-table").tBodies[0], fields: {} };
    for (const field of FIELDS) parts.fields[field] = root.querySelector('[data-field="' + field + '"]');
    return { name, root, parts, sigs: {} };
  }

  function renderCard(card, topic, generatedAt, seq) {
    const p = card.parts;
    for (const field of FIELDS) {
      const value = Number(topic[field]);
      p.fields[field].textContent = Number.isFinite(value) ? String(value) : "?";
      p.fields[field].dataset.value = Number.isFinite(value) ? String(value) : "";
    }
    p.deadStat.classList.toggle("bad", Number(topic.dead_lettered) > 0);
    // A backlog older than a minute means the app's events_url is not taking them.
    p.eventsStat.classList.toggle("bad", Number(topic.events_oldest_age_s) > 60);
    p.droppedStat.classList.toggle("bad", Number(topic.events_dropped) > 0);

    // Re-render a part only when its data changed, so buttons and text selections stay put.
    const history = Array.isArray(topic.history) ? topic.history : [];
    const chartSig = JSON.stringify([Math.floor(generatedAt / 60000), history]);
    if (card.sigs.chart !== chartSig) { card.sigs.chart = chartSig; drawChart(p.chart, history, generatedAt); }

    const dead = (Array.isArray(topic.dead_letters) ? topic.dead_letters : [])
      .filter((d) => !(hiddenUntil.has(card.name + "\n" + d.sid) && seq <= hiddenUntil.get(card.name + "\n" + d.sid)));
    const deadSig = JSON.stringify(dead);
    if (card.sigs.dead !== deadSig) { card.sigs.dead = deadSig; renderDead(card, dead); }

    const recent = Array.isArray(topic.recent) ? topic.recent : [];
    const recentSig = JSON.stringify(recent);
    if (card.sigs.recent !== recentSig) { card.sigs.recent = recentSig; renderRecent(card, recent); }
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    if (className) td.className = className;
    if (text !== undefined && text !== null) td.textContent = String(text);
    return td;
  }
  function textCell(row, text) {
    const td = row.insertCell();
    if (text === null || text === undefined) {
      const none = document.createElement("span");
      none.className = "none";
      none.textContent = "none";
      td.appendChild(none);
    } else {
      const div = document.createElement("div");
      div.className = "text";
      div.textContent = String(text);
      div.title = String(text);
      td.appendChild(div);
    }
    return td;
  }
  function emptyRow(body, columns, text) {
    const row = body.insertRow();
    row.className = "empty";
    const td = row.insertCell();
    td.colSpan = columns;
    td.textContent = text;
  }

  function renderDead(card, dead) {
    const body = card.parts.deadBody;
    body.replaceChildren();
    card.parts.deadCount.textContent = "(" + dead.length + " waiting)";
    if (dead.length === 0) { emptyRow(body, 6, "No dead letters."); return; }
    for (const d of dead) {
      const row = body.insertRow();
      row.dataset.deadSid = d.sid;
      cell(row, d.sid, "mono");
      cell(row, d.number, "mono");
      textCell(row, d.message);
      cell(row, when(d.dead_at), "time").title = fullTime(d.dead_at);
      const reasons = document.createElement("ol");
      reasons.className = "reasons";
      for (const reason of Array.isArray(d.reasons) ? d.reasons : []) {
        const li = document.createElement("li");
        li.textContent = String(reason);
        reasons.appendChild(li);
      }
      row.insertCell().appendChild(reasons);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "requeue";
      button.textContent = "Re-queue";
      button.title = "Put " + d.sid + " back on the queue with a fresh attempt count";
      button.addEventListener("click", () => requeue(card, d.sid, row, button));
      row.insertCell().appendChild(button);
    }
  }

  function renderRecent(card, recent) {
    const body = card.parts.recentBody;
    body.replaceChildren();
    card.parts.recentCount.textContent = "(" + recent.length + " shown, newest first)";
    if (recent.length === 0) { emptyRow(body, 7, "No messages yet."); return; }
    for (const m of recent) {
      const row = body.insertRow();
      row.dataset.recentSid = m.sid;
      row.dataset.outcome = m.outcome;
      cell(row, when(m.finished_at), "time").title = fullTime(m.finished_at);
      cell(row, m.number, "mono");
      textCell(row, m.message);
      textCell(row, m.reply);
      const badge = document.createElement("span");
      const known = m.outcome === "completed" || m.outcome === "dead_lettered";
      badge.className = "badge " + (known ? m.outcome : "other");
      badge.textContent = m.outcome === "dead_lettered" ? "dead-lettered" : String(m.outcome);
      row.insertCell().appendChild(badge);
      const sent = row.insertCell();
      sent.className = "sent";
      for (const s of Array.isArray(m.sent) ? m.sent : []) {
        const line = document.createElement("div");
        line.textContent = s.kind + ": " + s.status;
        line.title = String(s.sid);
        sent.appendChild(line);
      }
      if (!sent.firstChild) sent.textContent = "nothing";
      cell(row, m.sid, "mono");
    }
  }

  async function requeue(card, sid, row, button) {
    button.disabled = true;
    button.textContent = "Re-queuing…";
    const path = "/api/topics/" + encodeURIComponent(card.name) + "/dead/" + encodeURIComponent(sid) + "/requeue";
    try {
      const result = await api("POST", path);
      if (result.status === 200) {
        hiddenUntil.set(card.name + "\n" + sid, fetchSeq);
        row.remove();
        card.sigs.dead = null;
        const jobId = result.body && result.body.job_id ? " as job " + result.body.job_id : "";
        notice(card, "ok", "Re-queued " + sid + jobId + ".");
      } else if (result.status === 404) {
        notice(card, "error", "Could not re-queue " + sid + ": it is no longer a dead letter (" + describeFailure(result) + ").");
        card.sigs.dead = null;
      } else {
        notice(card, "error", "Could not re-queue " + sid + " (" + describeFailure(result) + ").");
        button.disabled = false;
        button.textContent = "Re-queue";
      }
      refreshNow();
    } catch (error) {
      if (error instanceof Unauthorized) {
        setToken(null);
        showLogin("The token was not accepted (HTTP 401). Enter the dashboard_token of this profile.", true);
        return;
      }
      notice(card, "error", "Could not re-queue " + sid + ": cannot reach the server.");
      button.disabled = false;
      button.textContent = "Re-queue";
    }
  }
  function notice(card, kind, text) {
    const box = card.parts.notice;
    box.className = "notice " + kind;
    box.textContent = text;
    box.hidden = false;
  }

  // ---- chart ---------------------------------------------------------------------------------
  // Stacked bars, one per minute: completed (blue) with dead-lettered (red) on top.
  function drawChart(svg, history, generatedAt) {
    const W = 640, H = 150, left = 30, right = 6, top = 8, bottom = 18;
    const plotW = W - left - right, plotH = H - top - bottom;
    const byMinute = new Map();
    let last = Math.floor(Number(generatedAt) / 60000) * 60000;
    for (const h of history) {
      byMinute.set(Number(h.minute), h);
      if (Number(h.minute) > last) last = Number(h.minute);
    }
    const slots = [];
    for (let i = 59; i >= 0; i--) {
      const minute = last - i * 60000;
      const h = byMinute.get(minute) || { completed: 0, dead_lettered: 0 };
      slots.push({ minute, completed: Number(h.completed) || 0, dead: Number(h.dead_lettered) || 0 });
    }
    const peak = Math.max(1, ...slots.map((s) => s.completed + s.dead));
    const max = niceCeil(peak);
    svg.replaceChildren();
    const add = (name, attrs, text) => {
      const node = document.createElementNS(SVG_NS, name);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = text;
      svg.appendChild(node);
      return node;
    };
    for (const frac of [0, 0.5, 1]) {
      const y = top + plotH - frac * plotH;
      add("line", { x1: left, x2: W - right, y1: y, y2: y, stroke: frac === 0 ? "#b9c0cc" : "#eef0f4", "stroke-width": 1 });
      // Label the middle line only when it falls on a whole number.
      if (Number.isInteger(max * frac)) add("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, String(max * frac));
    }
    const slotW = plotW / 60, barW = Math.max(1, slotW - 2);
    slots.forEach((s, i) => {
      const x = left + i * slotW + 1;
      const hc = (s.completed / max) * plotH, hd = (s.dead / max) * plotH;
      const group = document.createElementNS(SVG_NS, "g");
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = clock(new Date(s.minute)).slice(0, 5) + " — completed " + s.completed + ", dead-lettered " + s.dead;
      group.appendChild(title);
      // A transparent full-height rect so the tooltip shows on empty minutes too.
      const hit = document.createElementNS(SVG_NS, "rect");
      for (const [k, v] of Object.entries({ x, y: top, width: barW, height: plotH, fill: "transparent" })) hit.setAttribute(k, v);
      group.appendChild(hit);
      if (hc > 0) group.appendChild(rect(x, top + plotH - hc, barW, hc, "#2f6fdb"));
      if (hd > 0) group.appendChild(rect(x, top + plotH - hc - hd, barW, hd, "#c9302c"));
      svg.appendChild(group);
    });
    add("text", { x: left, y: H - 4, "text-anchor": "start" }, "60 min ago");
    add("text", { x: left + plotW / 2, y: H - 4, "text-anchor": "middle" }, "30 min ago");
    add("text", { x: W - right, y: H - 4, "text-anchor": "end" }, "now");
  }
  function rect(x, y, width, height, fill) {
    const node = document.createElementNS(SVG_NS, "rect");
    node.setAttribute("x", x); node.setAttribute("y", y);
    node.setAttribute("width", width); node.setAttribute("height", Math.max(height, 1));
    node.setAttribute("fill", fill);
    return node;
  }
  function niceCeil(n) {
    const pow = Math.pow(10, Math.floor(Math.log10(n)));
    for (const step of [1, 2, 5, 10]) { if (n <= step * pow) return step * pow; }
    return 10 * pow;
  }

  // ---- time ----------------------------------------------------------------------------------
  const pad = (n) => String(n).padStart(2, "0");
  function clock(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()); }
  function when(ms) {
    if (typeof ms !== "number") return "";
    const d = new Date(ms), now = new Date();
    const sameDay = d.toDateString() === now.toDateString();
    return sameDay ? clock(d) : d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock(d).slice(0, 5);
  }
  function fullTime(ms) { return typeof ms === "number" ? new Date(ms).toString() : ""; }

  // ---- start ---------------------------------------------------------------------------------
  takeTokenFromFragment();
  if (getToken()) refresh(); else showLogin("Enter the token set as dashboard_token in the profile.", false);
})();
