// alarmlink console: the month's ranking (排名) and why a score is what it is, on the
// 考评统计 tab. GET /api/management/rankings?subject&county&period ranks a county's venues,
// stations or villages by the newest rule; a row opens GET /scores/{subject}/{id}?period
// (each rule version's score with its lines: input, value, weight, points). Leaders may
// POST /scores/compute for the month (computing again changes nothing if the records
// did not change).
import { el, onLangChange, t, tf } from "/static/i18n.js";
import { getJSON, message, onTab, role, send, table } from "/static/mgmt.js";

const $ = (id) => document.getElementById(id);
const M = "/api/management";
const COMPUTE = new Set(["admin", "station_leader", "county_command"]);
const form = $("mg-rank-form");
let last = null;   // [ranking rows, explained subject id, explanation]

function query() {
  return new URLSearchParams({ subject: form.subject.value, county: form.county.value,
    period: form.period.value });
}

function render() {
  if (!last) return;
  const [rows, id, explained] = last;
  $("mg-ranking").replaceChildren(table(rows.map((r) => ({ ...r, id: r.subject_id })),
    ["rank", "subject_id", "score"], { rowClick: (r) => explain(r.subject_id) }));
  const box = $("mg-score");
  box.hidden = !explained;
  if (!explained) return;
  const parts = [el("h4", "", tf("s_why", { id }))];
  for (const s of explained) {
    parts.push(el("p", "m-facts", tf("s_version", { v: s.rule_version, score: s.score })));
    const lines = s.lines.map((l) => ({ ...l, input: t(`si_${l.input}`) === `si_${l.input}` ? l.input : t(`si_${l.input}`) }));
    parts.push(table(lines, ["input", "value", "weight", "points"]));
  }
  box.replaceChildren(...parts);
}

async function explain(id) {
  try {
    const explained = await getJSON(`${M}/scores/${form.subject.value}/${encodeURIComponent(id)}`
      + `?period=${form.period.value}`);
    last = [last[0], id, explained];
    render();
  } catch (err) { message($("mg-rank-error"), err.message); }
}

async function rank() {
  if (!form.county.value || !form.period.value) return;
  try {
    last = [await getJSON(`${M}/rankings?${query()}`), null, null];
    render();
  } catch (err) { message($("mg-rank-error"), err.message); }
}

async function load() {
  if (!form.period.value) {
    const now = new Date();
    now.setMonth(now.getMonth() - 1);   // the last whole month
    form.period.value = now.toISOString().slice(0, 7);
  }
  $("mg-rank-compute").hidden = !COMPUTE.has(role());
  message($("mg-rank-error"), "");
  if (!form.county.options.length) {
    const response = await window.alarmlink.api("/api/stations");
    const stations = response.ok ? await response.json() : [];
    const counties = new Map(stations.map((s) => [s.county_id, s.county_name]));
    for (const [id, name] of counties) {
      const o = el("option", "", name);
      o.value = id;
      form.county.append(o);
    }
    $("mg-rank").hidden = counties.size === 0;
  }
  rank();
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  message($("mg-rank-error"), "");
  rank();
});
$("mg-rank-compute").addEventListener("click", async () => {
  try {
    await send(`${M}/scores/compute`, "POST", { subject: form.subject.value, period: form.period.value });
    message($("mg-rank-error"), t("m_saved"), true);
  } catch (err) { message($("mg-rank-error"), err.message); }
  rank();
});
onTab("mg-dash", load);
onLangChange(render);
