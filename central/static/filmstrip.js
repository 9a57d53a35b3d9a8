// alarmlink console: camera filmstrip on every open alarm card. No dependencies.
// Polls GET /api/incidents/{id}/snapshots?since_id=N (1 s while a live view runs,
// 2 s otherwise) and shows pre-alarm, alarm, post-alarm and live frames with their
// times. "Live view" and "Snapshot now" POST to /api/incidents/{id}/snapshots/...
// console.js rebuilds the cards on every update; this re-attaches from its cache.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const PHASES = { pre: "before", alarm: "ALARM", post: "after", live: "live" };
  const strips = new Map();   // incident id -> { frames, lastId, liveUntil, selected, busy }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(iso) {
    const d = new Date(iso);
    return d.toLocaleTimeString([], { hour12: false }) + "." +
      String(d.getMilliseconds()).padStart(3, "0").slice(0, 1);
  }

  function stripFor(id) {
    if (!strips.has(id)) strips.set(id, { frames: [], lastId: 0, liveUntil: null, selected: null });
    return strips.get(id);
  }

  function liveNow(s) { return s.liveUntil && new Date(s.liveUntil) > new Date(); }

  function render(card) {
    const id = Number(card.dataset.incidentId);
    const s = stripFor(id);
    let box = card.querySelector(".filmstrip");
    if (!box) {
      box = el("section", "filmstrip");
      box.setAttribute("aria-label", "Camera snapshots");
      card.append(box);
    }
    const shown = s.frames.find((f) => f.id === s.selected) ||
      (liveNow(s) || !s.frames.length ? s.frames[s.frames.length - 1]
        : s.frames.find((f) => f.phase === "alarm") || s.frames[s.frames.length - 1]);
    const viewer = el("figure", "viewer");
    if (shown) {
      const img = el("img", "current");
      img.src = shown.url;
      img.alt = `${shown.camera} camera, ${PHASES[shown.phase]} ${clock(shown.ts)}`;
      viewer.append(img, el("figcaption", `phase-${shown.phase}`,
        `${PHASES[shown.phase]} · ${clock(shown.ts)} · ${shown.camera} camera · ${shown.device_id}`));
    } else {
      viewer.append(el("p", "no-frames", "No pictures yet."));
    }
    const actions = el("div", "film-actions");
    const live = el("button", "live-view", liveNow(s) ? "Extend live view" : "Live view");
    live.type = "button";
    live.addEventListener("click", () => request(id, "live", { live_s: 60, fps: 1 }, live));
    const now = el("button", "snap-now", "Snapshot now");
    now.type = "button";
    now.addEventListener("click", () => request(id, "now", {}, now));
    actions.append(live, now);
    if (liveNow(s)) {
      const stop = el("button", "live-stop", "Stop live");
      stop.type = "button";
      stop.addEventListener("click", () => request(id, "stop", {}, stop));
      actions.append(stop, el("span", "live-state", `LIVE until ${clock(s.liveUntil)}`));
    }
    const list = el("ol", "frames");
    for (const f of s.frames.slice(-40)) {
      const item = el("li", `frame phase-${f.phase}${shown && f.id === shown.id ? " shown" : ""}`);
      const thumb = el("img");
      thumb.src = f.url;
      thumb.alt = `${PHASES[f.phase]} ${clock(f.ts)}`;
      thumb.loading = "lazy";
      item.append(thumb, el("span", "ftime", clock(f.ts)), el("span", "fphase", PHASES[f.phase]));
      item.addEventListener("click", () => {
        s.selected = s.selected === f.id ? null : f.id;
        render(card);
      });
      list.append(item);
    }
    box.replaceChildren(viewer, actions, list);
  }

  async function request(id, action, extra, button) {
    const error = $("error");
    button.disabled = true;
    try {
      const response = await window.alarmlink.api(`/api/incidents/${id}/snapshots/${action}`, {
        method: "POST", body: JSON.stringify({ ...extra }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        error.textContent = `${action} failed: ${body.message || body.detail || response.status}`;
        error.hidden = false;
      } else {
        stripFor(id).liveUntil = body.live_until;
        await poll(id);
      }
    } catch (err) {
      error.textContent = `${action} failed: ${err}`;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  function cards() {
    return [...document.querySelectorAll(".incident-detail.cat-alarm[data-incident-id]")];
  }

  async function poll(id) {
    const s = stripFor(id);
    const response = await window.alarmlink.api(`/api/incidents/${id}/snapshots?since_id=${s.lastId}`);
    if (!response.ok) return;
    const body = await response.json();
    s.liveUntil = body.live_until;
    if (body.snapshots.length) {
      s.frames = s.frames.concat(body.snapshots).sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.id - b.id));
      s.lastId = Math.max(s.lastId, ...body.snapshots.map((f) => f.id));
    }
    for (const card of cards()) if (Number(card.dataset.incidentId) === id) render(card);
  }

  let ticks = 0;
  async function loop() {
    ticks++;
    const ids = new Set(cards().map((c) => Number(c.dataset.incidentId)));
    for (const id of [...strips.keys()]) if (!ids.has(id)) strips.delete(id);
    for (const id of ids) {
      if (ticks % 2 === 0 || liveNow(stripFor(id))) {
        try { await poll(id); } catch (err) { /* the next tick retries */ }
      }
    }
    setTimeout(loop, 1000);
  }

  // Cards are rebuilt by console.js: give every new alarm card its strip at once.
  new MutationObserver(() => {
    for (const card of cards()) if (!card.querySelector(".filmstrip")) render(card);
  }).observe(document.querySelector("main"), { childList: true, subtree: true });
  loop();
})();
