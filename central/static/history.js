// alarmlink console: history of closed incidents with filters (venue, kind, outcome, date
// range in the station's zone, text in the notes) and the same rows as CSV.
import { el, kind, onLangChange, t, when } from "/static/i18n.js";

const api = window.alarmlink.api;
const $ = (id) => document.getElementById(id);
const KINDS = ["fire", "smoke", "heat", "panic", "medical", "tamper", "trouble", "power"];
const OUTCOMES = ["real_fire", "real_emergency", "false_alarm", "malicious", "test", "repaired",
  "device_fault", "power", "other"];

function query() {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData($("history-form"))) if (value) params.set(key, value);
  const station = $("station").value;
  if (station) params.set("station", station);
  return params.toString();
}

// Options after the "any" one; re-filled on a language change, keeping the choice.
function fill(select, values, label) {
  const chosen = select.value;
  select.replaceChildren(select.options[0]);
  for (const value of values) {
    const opt = el("option", "", label(value));
    opt.value = value.id || value;
    select.append(opt);
  }
  select.value = chosen;
}

export async function search() {
  const q = query();
  $("h-csv").href = `/api/history.csv${q ? `?${q}` : ""}`;
  const response = await api(`/api/history${q ? `?${q}` : ""}`);
  if (!response.ok) return;
  renderRows(await response.json());
}

function renderRows(rows) {
  lastRows = rows;
  $("history").tBodies[0].replaceChildren(...rows.map((i) => {
    const tr = el("tr");
    tr.dataset.incidentId = i.id;
    tr.append(el("td", "", String(i.id)), el("td", "", when(i.opened_at)), el("td", "", i.venue_name),
      el("td", "", i.kinds.map(kind).join(" · ")), el("td", "", i.outcome ? t(`o_${i.outcome}`) : ""),
      el("td", "", when(i.resolved_at || i.closed_at)), el("td", "", i.resolved_by || ""));
    return tr;
  }));
  $("history-empty").hidden = rows.length > 0;
}

let lastRows = [];
function fillCodes() {
  fill($("h-kind"), KINDS, kind);
  fill($("h-outcome"), OUTCOMES, (o) => t(`o_${o}`));
}

export async function startHistory() {
  const venues = await (await api("/api/venues")).json();
  fill($("h-venue"), venues, (v) => v.name);
  fillCodes();
  onLangChange(() => { fillCodes(); renderRows(lastRows); });
  $("history-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });
  document.addEventListener("alarmlink:tab", (e) => { if (e.detail === "history") search(); });
}
