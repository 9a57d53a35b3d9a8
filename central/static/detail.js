// alarmlink console: the detail pane of the selected incident. Actions (acknowledge,
// dispatch, resolve with an outcome offered by category), the venue card (address,
// coordinates, contacts and keyholders with phone numbers), the venue's procedure (预案)
// as a checklist, notes, and the timeline of everything with who and when, all from
// GET /api/incidents/{id}. A change made here is announced as "alarmlink:incident".
import { el, kind, onLangChange, t, when } from "/static/i18n.js";

const api = window.alarmlink.api;
const pane = document.getElementById("detail");
const OUTCOMES = {
  fire: ["real_fire", "false_alarm", "malicious", "test"],
  alarm: ["real_emergency", "false_alarm", "malicious", "test"],
  trouble: ["repaired", "device_fault", "power", "other"],
};
const FIRE = new Set(["fire", "smoke", "heat"]);
let current = null;      // { incident, detail }
let chosen = new Map();  // incident id -> outcome chosen, kept across re-renders

export const selectedId = () => (current ? current.incident.id : null);

export function outcomesFor(inc) {
  if (inc.category === "trouble") return OUTCOMES.trouble;
  return inc.kinds.some((k) => FIRE.has(k)) ? OUTCOMES.fire : OUTCOMES.alarm;
}

function announce(incident) {
  document.dispatchEvent(new CustomEvent("alarmlink:incident", { detail: incident }));
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function post(path, body, button) {
  if (button) button.disabled = true;
  try {
    const response = await api(path, { method: "POST", body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      showError(`${t("action_failed")}: ${answer.message || answer.detail || response.status}`);
      return;
    }
    showError("");
    announce(answer);
    await load(answer);
    return true;
  } catch (err) {
    showError(`${t("action_failed")}: ${err}`);
  } finally {
    if (button) button.disabled = false;
  }
}

function button(key, className, onClick) {
  const b = el("button", className, t(key));
  b.type = "button";
  b.addEventListener("click", () => onClick(b));
  return b;
}

function actions(inc) {
  const box = el("div", "actions");
  const base = `/api/incidents/${inc.id}`;
  if (inc.status === "new" || inc.new_since_ack) {
    box.append(button("acknowledge", "ack", (b) => post(`${base}/acknowledge`, {}, b)));
  }
  if (inc.status === "new" || inc.status === "acknowledged") {
    box.append(button("dispatch", "dispatch", (b) => post(`${base}/dispatch`, {}, b)));
  }
  const select = el("select", "outcome");
  select.setAttribute("aria-label", t("outcome"));
  const placeholder = el("option", "", t("outcome"));
  placeholder.value = "";
  placeholder.disabled = true;
  select.append(placeholder);
  for (const value of outcomesFor(inc)) {
    const opt = el("option", "", t(`o_${value}`));
    opt.value = value;
    select.append(opt);
  }
  select.value = chosen.get(inc.id) || "";
  select.addEventListener("change", () => chosen.set(inc.id, select.value));
  box.append(select, button("resolve", "resolve", (b) => {
    if (!select.value) { showError(t("choose_outcome")); return; }
    post(`${base}/resolve`, { outcome: select.value }, b);
  }));
  return box;
}

function venueCard(venue) {
  const box = el("section", "venue-card");
  box.append(el("h3", "", `${t("venue")}: ${venue.name}`));
  box.append(el("div", "", `${t("address")}: ${venue.address || "—"}`));
  if (venue.lat !== null && venue.lon !== null) {
    box.append(el("div", "", `${t("coords")}: ${venue.lat.toFixed(5)}, ${venue.lon.toFixed(5)}`));
  }
  const list = el("ul", "contacts");
  for (const c of venue.contacts) {
    const li = el("li", `contact role-${c.role}`);
    const phone = el("a", "phone", c.phone);
    phone.href = `tel:${c.phone}`;
    li.append(el("span", "who", `${c.name}${c.title ? ` · ${c.title}` : ""} (${t(c.role)}) `), phone);
    list.append(li);
  }
  box.append(el("h4", "", t("contacts")), list);
  return box;
}

function procedure(inc, venue, ticks) {
  const box = el("section", "procedure");
  box.append(el("h3", "", t("procedure")));
  if (!venue.procedure.length) box.append(el("p", "muted", t("no_procedure")));
  venue.procedure.forEach((step, n) => {
    const label = el("label", "step");
    const box2 = el("input");
    box2.type = "checkbox";
    box2.checked = Boolean(ticks[String(n)] && ticks[String(n)].done);
    box2.addEventListener("change", () => post(`/api/incidents/${inc.id}/procedure`,
      { step: n, done: box2.checked }, null));
    label.append(box2, el("span", "", step));
    const tick = ticks[String(n)];
    if (tick && tick.done) label.append(el("span", "muted", ` ${tick.actor} ${when(tick.at)}`));
    box.append(label);
  });
  return box;
}

function notes(inc) {
  const form = el("form", "note-form");
  const input = el("input");
  input.name = "note";
  input.maxLength = 2000;
  input.placeholder = t("note_placeholder");
  input.setAttribute("aria-label", t("add_note"));
  const submit = el("button", "", t("add_note"));
  submit.type = "submit";
  form.append(input, submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim() || !(await post(`/api/incidents/${inc.id}/notes`, { text }, submit))) return;
    const now = pane.querySelector(".note-form input");   // (re-rendered meanwhile)
    if (now && now.value === text) now.value = "";
  });
  return form;
}

function describe(entry) {
  const d = entry.detail || {};
  if (entry.action === "note") return d.text;
  if (entry.action === "av_recording") {
    return [`${t("rec_watched")}: ${d.watched_by}`, d.spoke_by ? `${t("rec_spoke")}: ${d.spoke_by}` : t("rec_silent"),
      `${d.duration_s} s`, `SHA-256 ${d.sha256}`].join(" · ");
  }
  if (entry.action === "procedure") return `${d.text} — ${t(d.done ? "t_step_done" : "t_step_undone")}`;
  if (["opened", "event", "restored"].includes(entry.action)) {
    return `${kind(d.kind)} ${d.zone}${d.after_acknowledgement ? ` (${t("new_since_ack")})` : ""}`;
  }
  return [d.outcome ? t(`o_${d.outcome}`) : "", d.note || ""].filter(Boolean).join(" · ");
}

// The escalation scheduler and automatic notifications act as "escalation" / "auto:...".
function actorName(actor) {
  if (actor === "system") return "";
  if (actor === "escalation") return t("actor_escalation");
  return actor.startsWith("auto:") ? t("actor_auto") : actor;
}

function timeline(detail) {
  const list = el("ol", "timeline");
  for (const entry of detail.log) {
    const li = el("li", `tl tl-${entry.action}`);
    li.append(el("span", "time", when(entry.at)), el("span", "what", t(`t_${entry.action}`)),
      el("span", "actor", actorName(entry.actor)),
      el("span", "text", describe(entry) || ""));
    list.append(li);
  }
  const box = el("section", "timeline-box");
  box.append(el("h3", "", t("timeline")), list);
  return box;
}

function render() {
  if (!current || !current.detail) return;
  const { incident: inc, detail } = current;
  pane.className = `detail incident-detail incident cat-${inc.category} st-${inc.status}`;
  pane.dataset.incidentId = inc.id;
  pane.dataset.kinds = inc.kinds.join(" ");   // av.js: a venue that asked to talk
  // ... and whether a live session was opened since its last request (answered)
  const last = (action) => detail.log.map((e) => e.action).lastIndexOf(action);
  pane.dataset.talkAnswered = String(last("av_open") > last("talk_request"));
  const head = el("div", "head");
  head.append(el("span", `status st-${inc.status}`, t(`st_${inc.status}`)),
    el("strong", "venue", inc.venue_name), el("span", "kinds", inc.kinds.map(kind).join(" · ")),
    el("span", "meta", `#${inc.id} · ${inc.station_name} · ${when(inc.opened_at)}`));
  if (inc.new_since_ack) head.append(el("span", "flag", t("new_since_ack")));
  const who = el("div", "meta", [
    inc.acknowledged_by ? `${t("t_acknowledge")}: ${inc.acknowledged_by} ${when(inc.acknowledged_at)}` : "",
    inc.dispatched_by ? `${t("t_dispatch")}: ${inc.dispatched_by} ${when(inc.dispatched_at)}` : "",
  ].filter(Boolean).join(" · "));
  const columns = el("div", "detail-cols");
  const left = el("div", "col");
  const right = el("div", "col");
  if (detail.venue) left.append(venueCard(detail.venue), procedure(inc, detail.venue, detail.procedure));
  // a note being typed survives the re-render a push of this incident brings
  const draft = pane.querySelector(".note-form input");
  const typing = draft !== null && draft === document.activeElement;
  const form = notes(inc);
  if (draft) form.querySelector("input").value = draft.value;
  right.append(form, timeline(detail));
  columns.append(left, right);
  // av.js, filmstrip.js, recordings.js and incident_audit.js attach to this pane; keep their parts
  const keep = [...pane.querySelectorAll(":scope > .av-live, :scope > .filmstrip, :scope > .av-recordings, :scope > .incident-audit")];
  pane.replaceChildren(head, who, actions(inc), columns, ...keep);
  if (typing) form.querySelector("input").focus();
}

async function load(inc) {
  const response = await api(`/api/incidents/${inc.id}`);
  if (!response.ok) return;
  const detail = await response.json();
  if (!current || current.incident.id !== inc.id) return;   // another one was selected
  current = { incident: detail.incident, detail };
  render();
}

export function showDetail(inc) {
  if (!current || current.incident.id !== inc.id) {   // another incident: its own filmstrip
    delete pane.dataset.incidentId;
    pane.className = "detail";
    pane.replaceChildren();
  }
  current = { incident: inc, detail: null };
  load(inc);
}
export function refreshDetail(inc) { if (current && current.incident.id === inc.id) load(inc); }
onLangChange(render);
