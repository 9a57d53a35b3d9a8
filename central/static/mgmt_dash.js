// alarmlink console: the management dashboard (考评统计) and the leader's overview (领导总览).
// Dashboard: GET /api/management/dashboard?since&until[&station] for a period; each figure
// is a link listing its records (GET .../dashboard/records?figure=..., CSV beside it).
// Overview: GET /api/management/leader (it escalates notices past their deadline first):
// each officer's inspections and open hazards, overdue notices, cases awaiting approval.
import { applyStatic, el, localDay, onLangChange, t, tf } from "/static/i18n.js";
import { button, getJSON, message, onTab, open, send, table } from "/static/mgmt.js";

const $ = (id) => document.getElementById(id);
const M = "/api/management";
const LINKED = ["units_inspected", "hazards_found", "notices_issued", "rectified_on_time",
  "penalty_cases", "fires_investigated"];
let board = null;
let shown = null;   // [figure, rows]

function period() {
  const form = $("mg-dash-form");
  const since = new Date(`${form.since.value}T00:00:00`);
  const until = new Date(`${form.until.value}T00:00:00`);
  until.setDate(until.getDate() + 1);   // the last day counts whole
  const query = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
  if ($("station").value) query.set("station", $("station").value);
  return query;
}

function renderBoard() {
  if (!board) return;
  const figures = LINKED.map((name) => {
    const a = el("a", "m-figure");
    a.href = "#";
    a.dataset.figure = name;
    a.append(el("span", "n", String(board.figures[name])), el("span", "l", t(`f_${name}`)));
    a.addEventListener("click", (e) => { e.preventDefault(); records(name); });
    return a;
  });
  const venues = el("div", "m-figure plain");
  venues.append(el("span", "n", String(board.figures.venues_inspected)),
    el("span", "l", t("f_venues_inspected")));
  $("mg-figures").replaceChildren(...figures, venues);
  const outcomes = Object.entries(board.alarms_by_outcome)
    .map(([o, n]) => `${o === "open" ? t("m_open") : t(`o_${o}`)} ${n}`).join("，");
  const ack = board.ack_s;
  const round = (v) => (v === null ? "–" : Math.round(v));
  $("mg-alarms").textContent = `${t("m_alarms")}：${outcomes || t("m_none")}；${t("m_ack")}：`
    + tf("m_ack_line", { p50: round(ack.p50), p90: round(ack.p90), p99: round(ack.p99), n: ack.n });
  renderRecords();
}

const COLUMNS = {
  units_inspected: ["id", "venue_id", "inspected_at", "inspectors", "created_by"],
  hazards_found: ["id", "venue_id", "severity", "description", "status", "found_at"],
  notices_issued: ["id", "number", "venue_id", "kind", "deadline", "status", "issued_at"],
  rectified_on_time: ["id", "number", "venue_id", "deadline", "closed_at"],
  penalty_cases: ["id", "venue_id", "notice_id", "status", "decision", "amount_yuan", "proposed_at"],
  fires_investigated: ["id", "venue_id", "incident_id", "investigated_at", "summary"],
};
const STATUS = { notices_issued: "ns_", penalty_cases: "ps_" };
const CLICK = { hazards_found: (r) => open("mg-hazards", r.id), notices_issued: (r) => open("mg-notices", r.id),
  rectified_on_time: (r) => open("mg-notices", r.id) };

function renderRecords() {
  if (!shown) return;
  const [figure, rows] = shown;
  $("mg-records-title").textContent = `${t(`f_${figure}`)} · ${t("m_records")}（${rows.length}）`;
  $("mg-records").replaceChildren(table(rows, COLUMNS[figure],
    { statusPrefix: STATUS[figure], rowClick: CLICK[figure] }));
}

async function records(figure) {
  const query = period();
  query.set("figure", figure);
  try {
    shown = [figure, await getJSON(`${M}/dashboard/records?${query}`)];
  } catch (err) { message($("mg-dash-error"), err.message); return; }
  for (const a of document.querySelectorAll(".m-figure")) a.classList.toggle("on", a.dataset.figure === figure);
  const csv = $("mg-records-csv");
  query.set("format", "csv");
  csv.href = `${M}/dashboard/records?${query}`;
  csv.hidden = false;
  renderRecords();
}

async function loadBoard() {
  const form = $("mg-dash-form");
  if (!form.since.value) {
    const now = new Date();
    form.since.value = localDay(new Date(now.getFullYear(), now.getMonth(), 1, 12));
    form.until.value = localDay(now);
  }
  try {
    board = await getJSON(`${M}/dashboard?${period()}`);
    message($("mg-dash-error"), "");
  } catch (err) { message($("mg-dash-error"), err.message); return; }
  shown = null;
  $("mg-records").replaceChildren();
  $("mg-records-title").textContent = "";
  $("mg-records-csv").hidden = true;
  renderBoard();
}

$("mg-dash-form").addEventListener("submit", (e) => { e.preventDefault(); loadBoard(); });
onTab("mg-dash", loadBoard);

// ------------------------------------------------------------ leader's overview
let overview = null;

async function decide(id, approve) {
  try {
    await send(`${M}/penalties/${id}/approval`, "POST", { approve });
    message($("mg-leader-error"), t("m_saved"), true);
  } catch (err) { message($("mg-leader-error"), err.message); }
  loadOverview();
}

function renderOverview() {
  if (!overview) return;
  const officers = overview.officers.map((o) => ({ ...o, officer: o.username }));
  $("mg-officers").replaceChildren(table(officers, ["officer", "inspections", "open_hazards"]));
  $("mg-overdue").replaceChildren(table(overview.overdue_notices, ["number", "venue_id", "deadline"],
    { rowClick: (r) => open("mg-notices", r.id) }));
  $("mg-pending").replaceChildren(table(overview.pending_approvals,
    ["id", "venue_id", "notice_id", "proposal", "proposed_by", "proposed_at"],
    { extra: (r) => [button("m_approve", () => decide(r.id, true), "approve"),
      button("m_reject", () => decide(r.id, false), "reject")] }));
}

async function loadOverview() {
  try { overview = await getJSON(`${M}/leader`); } catch (err) {
    message($("mg-leader-error"), err.message);
    return;
  }
  renderOverview();
}

onTab("mg-leader", loadOverview);
onLangChange(() => { renderBoard(); renderOverview(); applyStatic($("tab-mg-dash")); });
