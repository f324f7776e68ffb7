// vidsight console: one small script for every page (no build step, no external assets).
"use strict";

const $ = (sel) => document.querySelector(sel);
const csrf = () => document.querySelector('meta[name="csrf-token"]').content;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}
function time(us) {
  return us == null ? "" : new Date(us / 1000).toISOString().replace("T", " ").slice(0, 23) + "Z";
}
function evidenceUrl(uri) { return "/evidence?uri=" + encodeURIComponent(uri); }

async function api(method, path, body) {
  const opts = { method, headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  return { status: resp.status, data };
}

// ---- the live feed (Server-Sent Events) ----------------------------------------------------
const listeners = [];
function onLive(fn) { listeners.push(fn); }
function connectLive() {
  const badge = $("#live");
  const source = new EventSource("/events");
  source.onopen = () => { if (badge) { badge.textContent = "live"; badge.className = "live on"; } };
  source.onerror = () => { if (badge) { badge.textContent = "reconnecting"; badge.className = "live off"; } };
  source.onmessage = (msg) => {
    const event = JSON.parse(msg.data);
    window.__vidsightLast = { event, receivedAt: performance.timeOrigin + performance.now() };
    for (const fn of listeners) fn(event);
  };
}

// ---- drawing -------------------------------------------------------------------------------
function drawBox(overlay, b, cls, label) {
  const r = svg("rect", { x: b.x1, y: b.y1, width: Math.max(0, b.x2 - b.x1),
    height: Math.max(0, b.y2 - b.y1), class: cls, "vector-effect": "non-scaling-stroke" });
  if (label) { const t = svg("title"); t.textContent = label; r.appendChild(t); }
  overlay.appendChild(r);
}
function drawGeometry(overlay, sensor) {
  const pts = sensor.points.map((p) => p.join(",")).join(" ");
  if (sensor.kind === "tripwire") {
    overlay.appendChild(svg("polyline", { points: pts, class: "geom", "vector-effect": "non-scaling-stroke" }));
    drawArrow(overlay, sensor.points, sensor.direction);
  } else if (sensor.kind === "speed") {  // line 1 (P0 P1), then line 2 (P0 P1)
    for (const line of [sensor.points.slice(0, 2), sensor.points.slice(2, 4)]) {
      overlay.appendChild(svg("polyline", { points: line.map((p) => p.join(",")).join(" "),
        class: "geom", "vector-effect": "non-scaling-stroke" }));
    }
  } else {
    overlay.appendChild(svg("polygon", { points: pts, class: "geom", "vector-effect": "non-scaling-stroke" }));
  }
}
function drawArrow(overlay, points, direction) {
  if (points.length !== 2) return;
  const [[x0, y0], [x1, y1]] = points;
  const mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
  const dx = x1 - x0, dy = y1 - y0, len = Math.hypot(dx, dy) || 1;
  // Side a is where cross(P1 - P0, p - P0) > 0 (DESIGN.md; x right, y down): n points to it.
  const nx = -dy / len, ny = dx / len;
  const k = 0.08;
  const arrows = direction === "b_to_a" ? [[1]] : direction === "a_to_b" ? [[-1]] : [[-1], [1]];
  for (const [s] of arrows) {
    // s = -1: from side a (+n) to side b (-n), an a_to_b crossing; s = 1 the other way.
    const sx = mx + nx * k * -s, sy = my + ny * k * -s, ex = mx + nx * k * s, ey = my + ny * k * s;
    overlay.appendChild(svg("line", { x1: sx, y1: sy, x2: ex, y2: ey, class: "arrow",
      "vector-effect": "non-scaling-stroke" }));
    overlay.appendChild(svg("circle", { cx: ex, cy: ey, r: 0.008, class: "arrow-head" }));
  }
  const ta = svg("text", { x: mx + nx * 0.1, y: my + ny * 0.1, class: "side" }); ta.textContent = "a";
  const tb = svg("text", { x: mx - nx * 0.1, y: my - ny * 0.1, class: "side" }); tb.textContent = "b";
  overlay.appendChild(ta); overlay.appendChild(tb);
}

// ---- alerts page ---------------------------------------------------------------------------
function alertRow(a) {
  const tr = el("tr", { "data-alert-id": a.alert_id, class: "sev-" + a.severity });
  const thumb = el("td");
  if (a.evidence_uri) thumb.appendChild(el("img", { src: evidenceUrl(a.evidence_uri), alt: "evidence", class: "thumb", loading: "lazy" }));
  tr.appendChild(thumb);
  const start = el("td"); start.appendChild(el("a", { href: "/alerts/" + a.alert_id }, time(a.start_ts)));
  tr.appendChild(start);
  for (const v of [a.camera_id, a.sensor_id, a.rule, a.label]) tr.appendChild(el("td", {}, v));
  tr.appendChild(el("td", { class: "lifecycle" }, a.lifecycle));
  tr.appendChild(el("td", {}, Number(a.top_score).toFixed(2)));
  tr.appendChild(el("td", {}, a.severity));
  tr.appendChild(el("td", { class: "review" }, a.review || "unreviewed"));
  return tr;
}
function filters() {
  const form = new FormData($("#filters"));
  const out = {};
  for (const [k, v] of form.entries()) if (v) out[k] = String(v);
  return out;
}
function matches(a, f) {
  return (!f.camera || a.camera_id === f.camera) && (!f.sensor || a.sensor_id === f.sensor) &&
    (!f.rule || a.rule === f.rule) && (!f.severity || a.severity === f.severity) &&
    (!f.lifecycle || a.lifecycle === f.lifecycle) &&
    (!f.review || (a.review || "unreviewed") === f.review);
}
async function alertsPage() {
  const rows = $("#alert-rows");
  const reviews = {};
  let cursor = null;
  async function load(append) {
    const q = new URLSearchParams(filters());
    if (append && cursor) q.set("cursor", cursor);
    const { status, data } = await api("GET", "/api/alerts?" + q);
    if (status !== 200) { $("#status").textContent = (data && (data.error || JSON.stringify(data.detail))) || "error " + status; return; }
    if (!append) rows.replaceChildren();
    for (const a of data.alerts) { reviews[a.alert_id] = a.review; rows.appendChild(alertRow(a)); }
    cursor = data.next_cursor; $("#more").hidden = !cursor;
    $("#status").textContent = "";
  }
  $("#filters").addEventListener("change", () => load(false));
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); load(false); });
  $("#more").addEventListener("click", () => load(true));
  onLive((ev) => {
    if (ev.type === "alert") {
      const a = { ...ev.alert, review: reviews[ev.alert.alert_id] || "unreviewed" };
      const old = rows.querySelector(`tr[data-alert-id="${a.alert_id}"]`);
      if (!matches(a, filters())) { if (old) old.remove(); return; }
      const row = alertRow(a);
      row.classList.add("fresh");
      if (old) old.replaceWith(row); else rows.prepend(row);
    } else if (ev.type === "feedback") {
      const f = ev.feedback;
      reviews[f.alert_id] = f.verdict === "unknown" ? "unreviewed" : f.verdict;
      const cell = rows.querySelector(`tr[data-alert-id="${f.alert_id}"] td.review`);
      if (cell) cell.textContent = reviews[f.alert_id];
    }
  });
  await load(false);
}

// ---- alert detail --------------------------------------------------------------------------
async function showClip(id) {
  // The recorded video around the alert, cut by the console without re-encoding.
  const url = "/api/alerts/" + encodeURIComponent(id) + "/clip.mp4";
  const video = $("#clip"), status = $("#clip-status");
  video.addEventListener("loadeddata", () => { video.hidden = false; status.textContent = "recorded video"; });
  video.addEventListener("error", async () => {
    video.hidden = true;
    const probe = await fetch(url, { headers: { Range: "bytes=0-0" } });
    let why = "no recorded video";
    try { why = (await probe.json()).error || why; } catch (e) { /* not JSON */ }
    status.textContent = why;
  });
  video.src = url;
}

async function alertPage() {
  const id = document.body.dataset.alertId;
  const { status, data } = await api("GET", "/api/alerts/" + encodeURIComponent(id));
  if (status !== 200) { $("#status").textContent = (data && data.error) || "error " + status; return; }
  const a = data.alert;
  const overlay = $("#overlay");
  if (a.evidence_uri) $("#evidence").src = evidenceUrl(a.evidence_uri);
  if (data.video) showClip(id); else $("#clip-status").textContent = "no recorded video";
  for (const o of data.frame_objects) drawBox(overlay, o.bbox, "obj-box", `#${o.track_id} ${o.label} ${Number(o.score).toFixed(2)}`);
  if (a.bbox) drawBox(overlay, a.bbox, "alert-box", "alert box");
  const s = await api("GET", "/api/sensors/" + encodeURIComponent(a.sensor_id));
  if (s.status === 200) drawGeometry(overlay, s.data.sensor);
  const facts = $("#facts");
  for (const [k, v] of [["camera", a.camera_id], ["sensor", a.sensor_id], ["rule", `${a.rule}/${a.kind}`],
    ["label", a.label], ["state", a.lifecycle], ["top score", Number(a.top_score).toFixed(3)],
    ["severity", a.severity], ["tracks", (a.track_ids || []).join(", ")], ["started", time(a.start_ts)],
    ["ended", time(a.end_ts)]]) {
    facts.appendChild(el("dt", {}, k)); facts.appendChild(el("dd", {}, v == null ? "" : String(v)));
  }
  $("#review").textContent = a.review || "unreviewed";
  const timeline = $("#timeline");
  for (const r of data.revisions) {
    timeline.appendChild(el("li", { class: r.lifecycle },
      `rev ${r.revision} · ${r.lifecycle} · ${time(r.updated_ts)} · score ${Number(r.top_score).toFixed(2)} · tracks ${(r.track_ids || []).join(",")}`));
  }
  let waiting = null;
  onLive((ev) => {
    if (ev.type === "feedback" && ev.feedback.alert_id === id) {
      const f = ev.feedback;
      const review = f.verdict === "unknown" ? "unreviewed" : f.verdict;
      $("#review").textContent = review;
      if (!waiting || waiting === f.feedback_id) {
        $("#verdict-status").textContent = `recorded: ${review} by ${f.operator} at ${time(f.ts)}`;
        $("#verdict-status").className = "ok";
      }
    } else if (ev.type === "alert" && ev.alert.alert_id === id) {
      const r = ev.alert;
      timeline.appendChild(el("li", { class: r.lifecycle },
        `rev ${r.revision} · ${r.lifecycle} · ${time(r.updated_ts)} · score ${Number(r.top_score).toFixed(2)} (live)`));
    }
  });
  async function send(action) {
    const body = { alert_id: id, action };
    const reason = $("#reason").value, note = $("#note").value;
    if (reason && action === "false_positive") body.reason = reason;
    if (note) body.note = note;
    $("#verdict-status").textContent = "publishing…"; $("#verdict-status").className = "";
    const r = await api("POST", "/api/feedback", body);
    if (r.status === 202) {
      waiting = r.data.feedback.feedback_id;
      $("#verdict-status").textContent = "published; waiting for it on vidsight.feedback…";
    } else {
      $("#verdict-status").textContent = (r.data && (r.data.error || JSON.stringify(r.data.detail))) || "error " + r.status;
      $("#verdict-status").className = "error";
    }
  }
  $("#confirm").addEventListener("click", () => send("confirm"));
  $("#false-positive").addEventListener("click", () => send("false_positive"));
  $("#reopen").addEventListener("click", () => send("reopen"));
}

// ---- cameras -------------------------------------------------------------------------------
async function camerasPage() {
  const { status, data } = await api("GET", "/api/cameras");
  if (status !== 200) { $("#status").textContent = (data && data.error) || "error " + status; return; }
  if (data.readmodels !== "running") $("#status").textContent = data.readmodels;
  const cards = $("#cards");
  for (const c of data.cameras) {
    const card = el("article", { class: "card", "data-camera-id": c.camera_id });
    card.appendChild(el("h2", {}, c.name ? `${c.name} (${c.camera_id})` : c.camera_id));
    if (c.latest_evidence) card.appendChild(el("img", { src: evidenceUrl(c.latest_evidence), alt: "latest frame", class: "frame-img" }));
    const live = el("div", { class: "figures" });
    if (!c.live) live.textContent = data.readmodels === "running" ? "no live figures" : data.readmodels;
    else {
      live.appendChild(el("p", {}, `occupancy now: ${c.live.occupancy.total}`));
      for (const [sid, n] of Object.entries(c.live.crossings.sensors || {})) {
        live.appendChild(el("p", {}, `${sid} today: a→b ${n.a_to_b ?? 0}, b→a ${n.b_to_a ?? 0}`));
      }
    }
    card.appendChild(live);
    const open = el("ul", { class: "open" });
    for (const a of c.open_alerts) {
      const li = el("li"); li.appendChild(el("a", { href: "/alerts/" + a.alert_id }, `${a.sensor_id} ${a.label} ${a.lifecycle}`));
      open.appendChild(li);
    }
    card.appendChild(el("h3", {}, `open alerts: ${c.open_alerts.length}`));
    card.appendChild(open);
    cards.appendChild(card);
  }
}

// ---- sensor editor -------------------------------------------------------------------------
async function editorPage() {
  let points = [];
  let sensors = [];
  let cams = [];
  const overlay = $("#overlay");
  const frame = $("#frame");
  const cameraSel = $("#camera");
  function redraw() {
    overlay.replaceChildren();
    const kind = $("#kind").value;
    if (points.length) drawGeometry(overlay, { kind, points, direction: $("#direction").value });
    points.forEach((p, i) => {
      const h = svg("circle", { cx: p[0], cy: p[1], r: 0.012, class: "handle", "data-i": i });
      overlay.appendChild(h);
    });
    $("#points").textContent = "points: " + JSON.stringify(points.map((p) => p.map((v) => Math.round(v * 1000) / 1000)));
  }
  function at(ev) {
    const r = overlay.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height))];
  }
  let dragging = null;
  overlay.addEventListener("pointerdown", (ev) => {
    const i = ev.target.getAttribute && ev.target.getAttribute("data-i");
    if (i !== null && i !== undefined) { dragging = Number(i); overlay.setPointerCapture(ev.pointerId); return; }
    if ($("#kind").value === "tripwire" && points.length >= 2) return;
    points.push(at(ev)); redraw();
  });
  overlay.addEventListener("pointermove", (ev) => { if (dragging !== null) { points[dragging] = at(ev); redraw(); } });
  overlay.addEventListener("pointerup", () => { dragging = null; });
  for (const id of ["#kind", "#direction"]) $(id).addEventListener("change", redraw);
  $("#clear").addEventListener("click", () => { points = []; redraw(); });
  function showFrame() {
    const cam = cams.find((c) => c.camera_id === cameraSel.value);
    const img = $("#evidence");
    if (cam && cam.latest_evidence) img.src = evidenceUrl(cam.latest_evidence); else img.removeAttribute("src");
    const existing = $("#existing");
    existing.replaceChildren(el("option", { value: "" }, "(new sensor)"));
    for (const s of sensors.filter((s) => s.camera === cameraSel.value)) existing.appendChild(el("option", { value: s.id }, `${s.id} (${s.kind})`));
  }
  cameraSel.addEventListener("change", showFrame);
  $("#existing").addEventListener("change", () => {
    const s = sensors.find((x) => x.id === $("#existing").value);
    if (!s) return;
    $("#sensor-id").value = s.id; $("#kind").value = s.kind; $("#direction").value = s.direction;
    $("#labels").value = (s.labels || []).join(", "); $("#seconds").value = s.seconds ?? "";
    points = s.points.map((p) => [...p]); redraw();
  });
  function body() {
    const b = { camera: cameraSel.value, kind: $("#kind").value, points, direction: $("#direction").value };
    const existing = sensors.find((x) => x.id === $("#sensor-id").value);
    if (existing) for (const [k, v] of Object.entries(existing)) if (!(k in b) && k !== "id" && k !== "labels" && k !== "seconds") b[k] = v;
    const labels = $("#labels").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (labels.length) b.labels = labels;
    if ($("#seconds").value !== "") b.seconds = Number($("#seconds").value);
    return b;
  }
  function showErrors(r) {
    const list = $("#errors"); list.replaceChildren();
    if (r.status === 422) for (const e of r.data.detail) list.appendChild(el("li", {}, `${e.loc.join(".")}: ${e.msg}`));
    else if (r.status >= 400) list.appendChild(el("li", {}, (r.data && r.data.error) || "error " + r.status));
  }
  async function put(dry) {
    const id = $("#sensor-id").value.trim();
    const q = new URLSearchParams();
    if (dry) q.set("dry_run", "true");
    if ($("#allow-move").checked) q.set("allow_move", "true");
    const r = await api("PUT", "/api/sensors/" + encodeURIComponent(id || "-") + "?" + q, body());
    showErrors(r);
    if (r.status === 200) {
      $("#save-status").textContent = dry ? `valid (${r.data.action})` : `saved: ${r.data.action} ${r.data.sensor.id}`;
      if (!dry) { const l = await api("GET", "/api/sensors"); if (l.status === 200) sensors = l.data.sensors; }
    } else $("#save-status").textContent = "";
    return r;
  }
  $("#validate").addEventListener("click", () => put(true));
  $("#save").addEventListener("click", () => put(false));
  $("#backtest").addEventListener("click", async () => {
    const id = $("#sensor-id").value.trim();
    const r = await api("POST", "/api/sensors/" + encodeURIComponent(id || "-") + "/backtest", body());
    showErrors(r);
    $("#backtest-report").textContent = r.status === 200 ? JSON.stringify(r.data.report, null, 2) : "";
  });
  const [c, s] = await Promise.all([api("GET", "/api/cameras"), api("GET", "/api/sensors")]);
  cams = c.status === 200 ? c.data.cameras : [];
  sensors = s.status === 200 ? s.data.sensors : [];
  const ids = new Set([...cams.map((x) => x.camera_id), ...sensors.map((x) => x.camera)]);
  for (const id of [...ids].sort()) {
    if (!cams.find((x) => x.camera_id === id)) cams.push({ camera_id: id });
    cameraSel.appendChild(el("option", { value: id }, id));
  }
  const wanted = new URLSearchParams(location.search).get("camera");
  if (wanted && ids.has(wanted)) cameraSel.value = wanted;
  showFrame(); redraw();
  frame.dataset.ready = "1";
}

// ---- boot ----------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  const logout = $("#logout");
  if (logout) logout.addEventListener("click", async () => { await api("POST", "/logout"); location.href = "/login"; });
  if (page === "login") return;
  connectLive();
  const run = { alerts: alertsPage, alert: alertPage, cameras: camerasPage, editor: editorPage }[page];
  if (run) run().then(() => { document.body.dataset.loaded = "1"; });
});
