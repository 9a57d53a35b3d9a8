// alarmlink console: what the one-key management pages share. Which tabs a role sees,
// the #/notice/N and #/hazard/N links (the notice PDF's QR code opens #/notice/N) and
// #/inspect/VENUE (the inspection form for that venue, from an overdue plan), JSON
// requests through session.js (cookie, X-CSRF-Token) with a one-line error, and tables
// whose every header and coded value comes from the catalogue (mgmt_i18n.js).
import "/static/mgmt_i18n.js";
import "/static/mgmt_org_i18n.js";
import { el, t, tf, when } from "/static/i18n.js";

const $ = (id) => document.getElementById(id);
const ALL = ["admin", "station_leader", "county_command", "duty_officer", "viewer"];
//: tab -> roles that see it (the API decides again, per object)
const TABS = {
  "mg-dash": [...ALL, "inspector"],
  "mg-leader": ["admin", "station_leader", "county_command"],
  "mg-villages": [...ALL, "inspector", "village_assistant"],
  "mg-plans": [...ALL, "inspector"],
  "mg-checklists": [...ALL, "inspector"],
  "mg-hazards": [...ALL, "inspector", "village_assistant", "venue_manager"],
  "mg-notices": [...ALL, "inspector", "village_assistant", "venue_manager"],
  "mg-penalties": [...ALL, "inspector", "village_assistant", "venue_manager"],
  "mg-inspect": ["admin", "station_leader", "inspector"],
};
//: roles without the alarm queue: they open on their first management tab
const MANAGEMENT_ONLY = new Set(["inspector", "village_assistant", "venue_manager"]);
const ALARM_TABS = ["queue", "map", "history", "devices", "roster"];
const loaders = {};

export const role = () => $("user-role").title;
// Whether the user works the alarm queue (the others get no live connection).
export const alarmRole = () => !MANAGEMENT_ONLY.has(role());

// A page registers what to do when its tab opens (and, for links, with an argument).
export function onTab(tab, load) { (loaders[tab] ||= []).push(load); }
const run = (tab, arg) => { for (const load of loaders[tab] || []) load(arg); };

// Open a tab (its alarmlink:tab event loads the list) and, with arg, one record of it.
export function open(tab, arg) {
  const button = document.querySelector(`[data-tab="${tab}"]`);
  if (button && button.getAttribute("aria-selected") !== "true") button.click();
  if (arg !== undefined) run(tab, arg);
}

// The cause of a refusal in one line (the server's detail, or the status).
async function failure(response) {
  const body = await response.json().catch(() => ({}));
  const detail = typeof body.detail === "string" ? body.detail
    : Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : String(response.status);
  return tf("m_failed", { detail });
}

export async function getJSON(url) {
  const response = await window.alarmlink.api(url);
  if (!response.ok) throw new Error(await failure(response));
  return response.json();
}

export async function send(url, method, body, headers) {
  const opts = { method, body: body instanceof Blob ? body : JSON.stringify(body ?? {}) };
  if (headers) opts.headers = headers;
  const response = await window.alarmlink.api(url, opts);
  if (!response.ok) throw new Error(await failure(response));
  return response.json();
}

export function message(box, text, ok = false) {
  box.textContent = text;
  box.className = ok ? "m-msg ok" : "m-msg error";
  box.hidden = !text;
}

//: coded values shown through the catalogue: column -> key prefix
const CODED = { severity: "sev_", status: null, kind: "nk_", source: "src_", decision: "dec_" };
const TIMES = /(_at|deadline)$/;

export function cell(column, value, statusPrefix = "hs_") {
  if (value === null || value === undefined || value === "") return "";
  if (TIMES.test(column)) return when(value);
  if (Array.isArray(value)) return value.join("、");
  if (column in CODED) {
    const key = `${CODED[column] ?? statusPrefix}${value}`;
    return t(key) === key ? String(value) : t(key);
  }
  return String(value);
}

// A table of rows: headers c_<column>; rowClick(row) makes rows clickable.
export function table(rows, columns, { statusPrefix, rowClick, extra } = {}) {
  const tbl = el("table", "devices m-table");
  const head = el("tr");
  for (const c of columns) head.append(el("th", "", t(`c_${c}`)));
  if (extra) head.append(el("th"));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    tr.dataset.id = row.id;
    for (const c of columns) tr.append(el("td", `col-${c}`, cell(c, row[c], statusPrefix)));
    if (extra) { const td = el("td"); td.append(...extra(row)); tr.append(td); }
    if (rowClick) { tr.classList.add("clickable"); tr.addEventListener("click", () => rowClick(row)); }
    body.append(tr);
  }
  const thead = el("thead");
  thead.append(head);
  tbl.append(thead, body);
  if (!rows.length) { const p = el("p", "empty", t("m_none")); return p; }
  return tbl;
}

export function button(key, onClick, cls = "") {
  const b = el("button", cls, t(key));
  b.type = "button";
  b.dataset.i18n = key;
  b.addEventListener("click", onClick);
  return b;
}

// A photo's thumbnail; a click shows it enlarged (the #mg-lightbox dialog).
export function thumbnail(id, alt) {
  const img = el("img", "m-photo");
  img.src = `/api/management/photos/${id}`;
  img.alt = alt;
  img.dataset.photo = id;
  img.addEventListener("click", () => {
    const box = $("mg-lightbox");
    const big = box.querySelector("img");
    big.src = img.getAttribute("src");
    big.alt = alt;
    box.showModal();
  });
  return img;
}

function route() {
  const m = location.hash.match(/^#\/(notice|hazard)\/(\d+)$/);
  if (m) open(m[1] === "notice" ? "mg-notices" : "mg-hazards", Number(m[2]));
  const inspect = location.hash.match(/^#\/inspect\/([A-Za-z0-9_-]+)$/);
  if (inspect) open("mg-inspect", inspect[1]);
}

document.addEventListener("alarmlink:tab", (e) => run(e.detail));
window.addEventListener("hashchange", route);

window.alarmlink.whenLoggedIn(() => {
  const r = role();
  for (const [tab, roles] of Object.entries(TABS)) {
    document.querySelector(`[data-tab="${tab}"]`).hidden = !roles.includes(r);
  }
  if (MANAGEMENT_ONLY.has(r)) {
    for (const tab of ALARM_TABS) document.querySelector(`[data-tab="${tab}"]`).hidden = true;
    document.body.classList.add("mgmt-only");   // no station list, sound or live pill
    const first = Object.keys(TABS).find((tab) => TABS[tab].includes(r));
    if (!location.hash && first) open(first);
  }
  route();
});
