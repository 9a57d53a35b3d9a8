// alarmlink console: the villages page (村与义务消防队). The station's villages (a village
// police assistant: only theirs, opened at once); a village with its police office, fire
// zones (消防责任区), liaison points (联络点), police assistants, venues and its volunteer
// fire team (义务消防队): members (name, phone, role; add, edit, remove) and the drills
// and patrols recorded (date, participants, notes). Editing: station leaders, admins and
// the village's assistant (team.manage); the API decides again, per village.
import { applyStatic, el, onLangChange, t, tf } from "/static/i18n.js";
import { button, getJSON, message, onTab, role, send, table } from "/static/mgmt.js";

const $ = (id) => document.getElementById(id);
const M = "/api/management";
const EDITORS = new Set(["admin", "station_leader", "village_assistant"]);
let shown = null;

function field(key, node) {
  const label = el("label", "m-field");
  label.append(el("span", "", t(key)), node);
  return label;
}

function input(name, attrs = {}) {
  const node = el("input");
  node.name = name;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function submitButton(key) {
  const b = el("button", "", t(key));
  b.type = "submit";
  return b;
}

// A form whose submit sends body() and shows the village again (or the one-line error).
function form(cls, parts, submitKey, go) {
  const f = el("form", `m-form m-inline ${cls}`);
  f.append(...parts, submitButton(submitKey));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await go(); showVillage(shown); } catch (err) { message($("mg-village-msg"), err.message); }
  });
  return f;
}

const memberInputs = (m = {}) => [
  input("name", { required: "", maxlength: "50", value: m.name ?? "" }),
  input("phone", { maxlength: "30", inputmode: "tel", value: m.phone ?? "" }),
  input("role", { maxlength: "30", value: m.role ?? "" }),
];
const memberBody = ([name, phone, role]) => ({ name: name.value.trim(), phone: phone.value.trim(),
  role: role.value.trim() });

// A member's row turned into inputs with 保存 / 取消.
function editMember(team, member, tr) {
  const inputs = memberInputs(member);
  const cells = [...tr.children];
  inputs.forEach((node, i) => cells[i].replaceChildren(node));
  cells[3].replaceChildren(
    button("v_save", async () => {
      try {
        await send(`${M}/teams/${team.id}/members/${member.id}`, "PUT", memberBody(inputs));
        showVillage(shown);
      } catch (err) { message($("mg-village-msg"), err.message); }
    }, "save"),
    button("v_cancel", () => showVillage(shown), "cancel"));
}

function teamBlock(team, editable) {
  const box = el("section", "m-team");
  box.dataset.team = team.id;
  box.append(el("h4", "", `${t("v_team")} · ${team.name}`), el("h5", "", t("v_members")));
  const members = team.members.map((m) => ({ ...m, member_name: m.name }));
  const extra = editable ? (m) => [
    button("v_edit", (e) => editMember(team, m, e.target.closest("tr")), "edit"),
    button("v_remove", async () => {
      if (!window.confirm(tf("v_remove_confirm", { name: m.name }))) return;
      try { await send(`${M}/teams/${team.id}/members/${m.id}`, "DELETE"); showVillage(shown); } catch (err) {
        message($("mg-village-msg"), err.message);
      }
    }, "remove")] : undefined;
  box.append(table(members, ["member_name", "phone", "role"], { extra }));
  if (editable) {
    const inputs = memberInputs();
    box.append(form("member-form", inputs.map((node, i) => field(["c_member_name", "c_phone", "c_role"][i], node)),
      "v_add_member", () => send(`${M}/teams/${team.id}/members`, "POST", memberBody(inputs))));
  }
  box.append(el("h5", "", t("v_drills")));
  box.append(table(team.drills.map((d) => ({ ...d, drill_kind: t(`dk_${d.kind}`) })),
    ["held_at", "drill_kind", "participants", "notes", "created_by"]));
  if (editable) {
    const kind = el("select");
    kind.name = "kind";
    for (const k of ["drill", "patrol"]) {
      const o = el("option", "", t(`dk_${k}`));
      o.value = k;
      kind.append(o);
    }
    const held = input("held_at", { type: "datetime-local", required: "" });
    const now = new Date();
    now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
    held.value = now.toISOString().slice(0, 16);
    const people = input("participants", { type: "number", min: "0", max: "10000", value: "0" });
    const notes = input("notes", { maxlength: "2000" });
    box.append(form("drill-form", [field("c_held_at", held), field("c_drill_kind", kind),
      field("c_participants", people), field("c_notes", notes)], "v_record_drill",
    () => send(`${M}/drills`, "POST", { kind: kind.value, team: team.id,
      held_at: new Date(held.value).toISOString(), participants: Number(people.value) || 0,
      notes: notes.value.trim() })));
  }
  return box;
}

async function showVillage(id) {
  let v;
  try { v = await getJSON(`${M}/villages/${encodeURIComponent(id)}`); } catch (err) {
    message($("mg-village-msg"), err.message);
    return;
  }
  shown = id;
  const editable = EDITORS.has(role());
  const box = $("mg-village");
  const list = (items) => {
    const ul = el("ul", "m-chips");
    ul.append(...items.map((x) => el("li", "", x)));
    return items.length ? ul : el("p", "empty", t("m_none"));
  };
  const parts = [el("h3", "", v.name),
    el("p", "m-facts", [v.station_id, v.office_id ? `${t("v_office")} ${v.office_id}` : ""]
      .filter(Boolean).join(" · ")),
    el("h4", "", t("v_zones")), list(v.zones.map((z) => z.name)),
    el("h4", "", t("v_assistants")),
    list(v.assistants.map((a) => [a.display_name || a.username, a.mobile].filter(Boolean).join(" "))),
    el("h4", "", t("v_liaison")), table(v.liaison_points, ["name", "contact", "phone"]),
    el("h4", "", t("v_venues")), list(v.venues.map((x) => x.name))];
  for (const team of v.teams) parts.push(teamBlock(team, editable));
  if (!v.teams.length) {
    parts.push(el("p", "empty", t("v_no_team")));
    if (editable) {
      const name = input("team", { required: "", maxlength: "100" });
      parts.push(form("team-form", [field("v_team_name", name)], "v_new_team",
        () => send(`${M}/villages/${encodeURIComponent(id)}/teams`, "POST",
          { name: name.value.trim(), members: [] })));
    }
  }
  box.replaceChildren(...parts);
  box.hidden = false;
}

async function load() {
  message($("mg-village-msg"), "");
  let rows;
  try { rows = await getJSON(`${M}/villages`); } catch (err) {
    message($("mg-village-msg"), err.message);
    return;
  }
  $("mg-village-list").replaceChildren(table(rows, ["id", "name", "station_id"],
    { rowClick: (r) => showVillage(r.id) }));
  const only = rows.length === 1 ? rows[0].id : null;
  if (shown || only) showVillage(shown || only);
}

onTab("mg-villages", load);
onLangChange(() => { applyStatic($("tab-mg-villages")); if (shown) showVillage(shown); });
