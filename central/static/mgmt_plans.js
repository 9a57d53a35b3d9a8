// alarmlink console: the checklists (检查表) and inspection plans (检查计划) pages.
// Checklists: the station's copy of each venue category's list, each item with the rule
// it cites; a station leader edits it, which stores the next version (earlier versions
// stay, listed below with the inspections that used them). Plans: which venues, how often,
// who; the overdue ones counted and listed, each with a link to the phone inspection form
// for that venue (#/inspect/VENUE); a station leader sets or changes a plan.
import { applyStatic, el, onLangChange, t, tf, when } from "/static/i18n.js";
import { button, getJSON, message, onTab, role, send, table } from "/static/mgmt.js";

const $ = (id) => document.getElementById(id);
const M = "/api/management";
const LEADERS = new Set(["admin", "station_leader"]);
const CATEGORIES = ["school", "hotel", "village"];
let venues = [];

function option(value, text) {
  const o = el("option", "", text);
  o.value = value;
  return o;
}

async function loadVenues() {
  venues = await getJSON(`${M}/venues`);
  return venues;
}

// ------------------------------------------------------------ checklists
const cform = $("mg-checklist-form");

function fillSelects() {
  const stations = new Map(venues.map((v) => [v.station_id, v.station_name]));
  const station = cform.station.value;
  cform.station.replaceChildren(...[...stations].map(([id, name]) => option(id, name)));
  if (station) cform.station.value = station;
  const category = cform.category.value;
  cform.category.replaceChildren(...CATEGORIES.map((c) => option(c, t(`cat_${c}`))));
  if (category) cform.category.value = category;
}

const versionName = (v) => `${tf("k_version", { v: v.version })} · ${t(v.station_id ? "k_own" : "k_starting")}`;

function itemsTable(items) {
  return table(items.map((item, i) => ({ ...item, id: item.code, n: i + 1 })), ["text", "rule"]);
}

function editor(current) {
  const f = el("form", "m-form m-checklist-editor");
  const list = el("ol", "m-items");
  const row = (item = { code: "", text: "", rule: "" }) => {
    const li = el("li", "m-item");
    for (const [name, key, max] of [["code", "k_code", 40], ["text", "c_text", 200], ["rule", "c_rule", 200]]) {
      const node = el("input", name);
      node.name = name;
      node.value = item[name];
      node.maxLength = max;
      node.required = true;
      if (name === "code") node.pattern = "[a-z0-9-]+";
      const label = el("label", "m-field");
      label.append(el("span", "", t(key)), node);
      li.append(label);
    }
    li.append(button("v_remove", () => li.remove(), "remove"));
    return li;
  };
  list.append(...current.items.map(row));
  const save = el("button", "", t("k_save"));
  save.type = "submit";
  f.append(list, button("k_add_item", () => list.append(row()), "add"), save);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const items = [...list.children].map((li) => ({ code: li.querySelector(".code").value.trim(),
      text: li.querySelector(".text").value.trim(), rule: li.querySelector(".rule").value.trim() }));
    try {
      const stored = await send(`${M}/checklists`, "PUT",
        { station: cform.station.value, category: cform.category.value, items });
      await loadChecklist();
      message($("mg-checklist-msg"), tf("k_saved", { v: stored.version }), true);
    } catch (err) { message($("mg-checklist-msg"), err.message); }
  });
  return f;
}

async function loadChecklist() {
  message($("mg-checklist-msg"), "");
  let versions;
  try {
    versions = await getJSON(`${M}/checklists/versions?station=${encodeURIComponent(cform.station.value)}`
      + `&category=${encodeURIComponent(cform.category.value)}`);
  } catch (err) { message($("mg-checklist-msg"), err.message); return; }
  const [current, ...older] = versions;
  const box = $("mg-checklist");
  const head = el("h3", "m-version", versionName(current));
  head.dataset.version = current.version;
  const parts = [head, el("p", "m-facts", [tf("k_current", { name: versionName(current),
    who: current.created_by === "system" ? t("actor_system") : current.created_by, at: when(current.created_at) }),
  tf("k_used", { n: current.inspections })].join(" · ")), itemsTable(current.items)];
  if (LEADERS.has(role())) {
    const edit = button("k_edit", () => edit.replaceWith(editor(current)), "edit");
    parts.push(edit);
  }
  if (older.length) {
    parts.push(el("h4", "", t("k_history")));
    for (const v of older) {
      const d = el("details", "m-old-version");
      d.dataset.version = v.version;
      d.append(el("summary", "", `${versionName(v)} · ${when(v.created_at)} · ${tf("k_used", { n: v.inspections })}`),
        itemsTable(v.items));
      parts.push(d);
    }
  }
  box.replaceChildren(...parts);
}

async function checklists() {
  try { await loadVenues(); } catch (err) { message($("mg-checklist-msg"), err.message); return; }
  fillSelects();
  loadChecklist();
}

cform.station.addEventListener("change", loadChecklist);
cform.category.addEventListener("change", loadChecklist);
onTab("mg-checklists", checklists);

// ------------------------------------------------------------ plans
const pform = $("mg-plan-form");

function planRow(p) {
  return { ...p, id: p.venue_id, last_at: p.last_at || "", plan_state: t(p.overdue ? "p_overdue" : "p_ok") };
}

async function plans() {
  const box = $("mg-plan-msg");
  message(box, "");
  let answer;
  try { [answer] = await Promise.all([getJSON(`${M}/plans`), loadVenues()]); } catch (err) {
    message(box, err.message);
    return;
  }
  const rows = answer.plans.map(planRow);
  const overdue = rows.filter((p) => p.overdue);
  $("mg-plan-count").textContent = tf("p_overdue_n", { n: answer.overdue });
  $("mg-plan-count").dataset.n = answer.overdue;
  const go = (p) => {
    const a = el("a", "button m-go", t("p_go"));
    a.href = `#/inspect/${encodeURIComponent(p.venue_id)}`;
    return [a];
  };
  $("mg-overdue-plans").replaceChildren(table(overdue, ["venue_name", "due_at", "last_at", "inspectors"], { extra: go }));
  $("mg-plan-list").replaceChildren(table(rows, ["venue_name", "every_days", "inspectors", "last_at",
    "due_at", "plan_state"]));
  pform.hidden = !LEADERS.has(role());
  const chosen = pform.venue.value;
  pform.venue.replaceChildren(...venues.map((v) => option(v.venue_id, `${v.name}（${v.venue_id}）`)));
  if (chosen) pform.venue.value = chosen;
}

pform.addEventListener("submit", async (e) => {
  e.preventDefault();
  const inspectors = pform.inspectors.value.split(/[,，、\s]+/).map((s) => s.trim()).filter(Boolean);
  try {
    await send(`${M}/plans`, "PUT", { venue: pform.venue.value, every_days: Number(pform.every.value),
      inspectors });
    await plans();
    message($("mg-plan-msg"), t("m_saved"), true);
  } catch (err) { message($("mg-plan-msg"), err.message); }
});
onTab("mg-plans", plans);

onLangChange(() => {
  for (const page of ["mg-checklists", "mg-plans"]) applyStatic($(`tab-${page}`));
  if (!$("tab-mg-checklists").hidden) checklists();
  if (!$("tab-mg-plans").hidden) plans();
});
