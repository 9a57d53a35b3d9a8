// alarmlink console: recordings of the live sessions of the selected incident, played
// back in its detail pane, each with its SHA-256 checked IN THIS BROWSER before it plays.
// GET /api/incidents/{id}/recordings lists them (a partial upload shows how many chunks
// arrived and is never played); the file comes from GET /api/av/recordings/{session}.
// The browser hashes the bytes it received (crypto.subtle) and compares them with the
// hash central wrote on the timeline and in the audit chain: "hash verified" only when
// they are equal; the player is given exactly those bytes. The list is read again
// whenever the timeline gains an "av_recording" entry (central pushes the incident when
// an upload completes). detail.js rebuilds the pane on every update; this re-attaches.
import { el, onLangChange, t } from "/static/i18n.js";

const boxes = new Map();   // incident id -> { box, rows, seen, verified: Map(session -> state) }
const AUTO_VERIFY_BYTES = 64 * 1024 * 1024;   // larger files: on the officer's click

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

function stateFor(id) {
  if (!boxes.has(id)) boxes.set(id, { id, box: el("section", "av-recordings"), rows: [], seen: -1, verified: new Map() });
  return boxes.get(id);
}

async function verify(s, rec) {
  const v = { state: "checking", url: null, actual: null };
  s.verified.set(rec.session_id, v);
  draw(s);
  try {
    const response = await window.alarmlink.api(rec.url);
    if (!response.ok) throw new Error(String(response.status));
    const bytes = await response.arrayBuffer();
    v.actual = hex(await crypto.subtle.digest("SHA-256", bytes));
    v.state = v.actual === rec.sha256 ? "verified" : "mismatch";
    if (v.state === "verified") v.url = URL.createObjectURL(new Blob([bytes], { type: rec.media_type }));
  } catch (err) {
    v.state = "failed";
    v.error = String(err);
  }
  draw(s);
}

function item(s, rec) {
  const li = el("li", `rec rec-${rec.state}`);
  li.dataset.sessionId = rec.session_id;
  const who = [`${t("rec_watched")}: ${rec.opened_by}`,
    rec.spoke_s > 0 ? `${t("rec_spoke")}: ${rec.opened_by} (${rec.spoke_s.toFixed(1)} s)` : t("rec_silent")];
  const start = new Date(rec.started_at).toLocaleString("en-GB", { hour12: false });
  li.append(el("div", "rec-head", `${start} · ${who.join(" · ")}`));
  if (rec.state !== "complete") {
    li.append(el("div", "rec-partial", rec.state === "partial"
      ? `${t("rec_partial")} (${rec.received}/${rec.chunks})` : `${t("rec_rejected")}: ${rec.reason}`));
    return li;
  }
  const v = s.verified.get(rec.session_id);
  const hash = el("code", "rec-sha", rec.sha256);
  hash.title = "SHA-256";
  const badge = el("span", `rec-hash ${v ? `rec-${v.state}` : ""}`, v ? t(`rec_${v.state}`) : "");
  if (v && v.state === "verified") {
    const video = el(rec.media_type.startsWith("audio") ? "audio" : "video", "rec-player");
    video.controls = true;
    video.preload = "auto";
    video.src = v.url;
    li.append(video);
  } else if (!v) {
    const b = el("button", "rec-verify", t("rec_verify_play"));
    b.type = "button";
    b.addEventListener("click", () => verify(s, rec));
    li.append(b);
  }
  li.append(badge, hash);
  return li;
}

function draw(s) {
  if (!s.rows.length) { s.box.replaceChildren(); s.box.hidden = true; return; }
  s.box.hidden = false;
  const list = el("ol", "rec-list");
  for (const rec of s.rows) list.append(item(s, rec));
  s.box.replaceChildren(el("h3", "", t("rec_title")), list);
}

async function load(s) {
  const response = await window.alarmlink.api(`/api/incidents/${s.id}/recordings`);
  if (!response.ok) return;
  s.rows = (await response.json()).recordings;
  draw(s);
  for (const rec of s.rows) {
    if (rec.state === "complete" && !s.verified.has(rec.session_id) && rec.size <= AUTO_VERIFY_BYTES) verify(s, rec);
  }
}

new MutationObserver(() => {
  const pane = document.querySelector("#detail.incident-detail[data-incident-id]");
  if (!pane) return;
  const s = stateFor(Number(pane.dataset.incidentId));
  if (s.box.parentElement !== pane) pane.append(s.box);
  const done = pane.querySelectorAll(".tl-av_recording").length;
  if (done !== s.seen && pane.querySelector(".timeline")) { s.seen = done; load(s); }
}).observe(document.querySelector("main"), { childList: true, subtree: true });

onLangChange(() => { for (const s of boxes.values()) draw(s); });
window.alarmlink.recordings = boxes;   // for the duty-room diagnostics and the tests
