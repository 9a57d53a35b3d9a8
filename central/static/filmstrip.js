// alarmlink console: camera filmstrip on the selected alarm's detail pane. ES module.
// The frames come pushed: central's WebSocket sends {"type": "frame"} (metadata and url,
// never the JPEG) when a snapshot of a visible incident is stored; console.js hands it on
// as the "alarmlink:frame" event. GET /api/incidents/{id}/snapshots?since_id=N is read
// once when a card appears, once after the WebSocket comes back (frames stored while it
// was down), and every FALLBACK_MS only while the socket is down. Shows pre-alarm,
// alarm, post-alarm and live frames with their times. "Live view" and "Snapshot now"
// POST to /api/incidents/{id}/snapshots/... detail.js rebuilds the pane on every
// update; this re-attaches from its cache.
import { el, onLangChange, t } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
const FALLBACK_MS = 5000;
const strips = new Map();   // incident id -> { frames: Map(id -> frame), loaded, liveUntil, selected }
const socketUp = () => $("conn").classList.contains("up");
const phase = (p) => t(`ph_${p}`);

function clock(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString("en-GB", { hour12: false }) + "." +
    String(d.getMilliseconds()).padStart(3, "0").slice(0, 1);
}

function stripFor(id) {
  if (!strips.has(id)) {
    strips.set(id, { frames: new Map(), loaded: false, liveUntil: null, selected: null });
  }
  return strips.get(id);
}

const liveNow = (s) => s.liveUntil && new Date(s.liveUntil) > new Date();
const ordered = (s) => [...s.frames.values()].sort((a, b) =>
  (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id - b.id));

function button(cls, key, onClick) {
  const b = el("button", cls, t(key));
  b.type = "button";
  b.addEventListener("click", () => onClick(b));
  return b;
}

function render(card) {
  const id = Number(card.dataset.incidentId);
  const s = stripFor(id);
  let box = card.querySelector(".filmstrip");
  if (!box) {
    box = el("section", "filmstrip");
    card.append(box);
  }
  box.setAttribute("aria-label", t("f_title"));
  const frames = ordered(s);
  const shown = frames.find((f) => f.id === s.selected) ||
    (liveNow(s) || !frames.length ? frames[frames.length - 1]
      : frames.find((f) => f.phase === "alarm") || frames[frames.length - 1]);
  const viewer = el("figure", "viewer");
  if (shown) {
    const img = el("img", "current");
    img.src = shown.url;
    img.alt = `${t("f_camera")} ${shown.camera}, ${phase(shown.phase)} ${clock(shown.ts)}`;
    viewer.append(img, el("figcaption", `phase-${shown.phase}`,
      `${phase(shown.phase)} · ${clock(shown.ts)} · ${t("f_camera")} ${shown.camera} · ${shown.device_id}`));
  } else {
    viewer.append(el("p", "no-frames", t("f_none")));
  }
  const actions = el("div", "film-actions");
  actions.append(
    button("live-view", liveNow(s) ? "f_live_more" : "f_live_btn", (b) => request(id, "live", { live_s: 60, fps: 1 }, b)),
    button("snap-now", "f_now", (b) => request(id, "now", {}, b)));
  if (liveNow(s)) {
    actions.append(button("live-stop", "f_stop", (b) => request(id, "stop", {}, b)),
      el("span", "live-state", `${t("f_live_until")} ${clock(s.liveUntil)}`));
  }
  const list = el("ol", "frames");
  for (const f of frames.slice(-40)) {
    const item = el("li", `frame phase-${f.phase}${shown && f.id === shown.id ? " shown" : ""}`);
    item.dataset.snapshotId = f.id;
    const thumb = el("img");
    thumb.src = f.url;
    thumb.alt = `${phase(f.phase)} ${clock(f.ts)}`;
    thumb.loading = "lazy";
    item.append(thumb, el("span", "ftime", clock(f.ts)), el("span", "fphase", phase(f.phase)));
    item.addEventListener("click", () => {
      s.selected = s.selected === f.id ? null : f.id;
      render(card);
    });
    list.append(item);
  }
  box.replaceChildren(viewer, actions, list);
}

function cards() {
  return [...document.querySelectorAll(".incident-detail.cat-alarm[data-incident-id]")];
}

function redraw(id) {
  for (const card of cards()) if (Number(card.dataset.incidentId) === id) render(card);
}

function showError(message) {
  const error = $("error");
  error.textContent = message;
  error.hidden = false;
}

async function request(id, action, extra, b) {
  b.disabled = true;
  try {
    const response = await window.alarmlink.api(`/api/incidents/${id}/snapshots/${action}`, {
      method: "POST", body: JSON.stringify({ ...extra }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      showError(`${t("action_failed")}: ${body.message || body.detail || response.status}`);
      return;
    }
    stripFor(id).liveUntil = body.live_until;
    redraw(id);
  } catch (err) {
    showError(`${t("action_failed")}: ${err}`);
  } finally {
    b.disabled = false;
  }
}

function add(s, frames) {
  for (const f of frames) s.frames.set(f.id, f);
}

async function load(id) {
  const s = stripFor(id);
  const since = Math.max(0, ...s.frames.keys());
  const response = await window.alarmlink.api(`/api/incidents/${id}/snapshots?since_id=${since}`);
  if (!response.ok) return;
  const body = await response.json();
  s.liveUntil = body.live_until;
  s.loaded = true;
  add(s, body.snapshots);
  redraw(id);
}

function loadAll() {
  for (const card of cards()) load(Number(card.dataset.incidentId)).catch(() => {});
}

// A frame pushed over the WebSocket: only strips that are shown (the others load
// their frames when they appear).
document.addEventListener("alarmlink:frame", (e) => {
  const frame = e.detail;
  if (!strips.has(frame.incident_id)) return;
  const s = strips.get(frame.incident_id);
  add(s, [frame]);
  redraw(frame.incident_id);
});

// Fallback while the socket is down; one catch-up read when it comes back.
let wasUp = false;
setInterval(() => { if (!socketUp()) loadAll(); }, FALLBACK_MS);
new MutationObserver(() => {
  const up = socketUp();
  if (up && !wasUp && strips.size) loadAll();
  wasUp = up;
}).observe($("conn"), { attributes: true, attributeFilter: ["class"] });

// detail.js rebuilds the pane: give every new alarm card its strip at once.
new MutationObserver(() => {
  const shown = new Set();
  for (const card of cards()) {
    const id = Number(card.dataset.incidentId);
    shown.add(id);
    if (!card.querySelector(".filmstrip")) render(card);
    if (!stripFor(id).loaded && !stripFor(id).loading) {
      stripFor(id).loading = true;
      load(id).catch(() => {}).finally(() => { stripFor(id).loading = false; });
    }
  }
  for (const id of [...strips.keys()]) if (!shown.has(id)) strips.delete(id);
}).observe(document.querySelector("main"), { childList: true, subtree: true });
onLangChange(() => { for (const card of cards()) render(card); });
