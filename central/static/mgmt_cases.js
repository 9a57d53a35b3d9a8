// alarmlink console: the hazard register (隐患台账) with each hazard's timeline, the
// rectification notices (整改通知: the PDF, the venue manager's proof with photos and the
// request for re-inspection, the inspectors' re-inspection, a penalty case) and the
// penalty cases (行政处罚: the leader's approval, then the decision).
import { applyStatic, el, onLangChange, t, tf, when } from "/static/i18n.js";
import { button, cell, getJSON, message, onTab, role, send, table, thumbnail } from "/static/mgmt.js";

const $ = (id) => document.getElementById(id);
const M = "/api/management";
const INSPECTORS = new Set(["admin", "station_leader", "inspector"]);
const LEADERS = new Set(["admin", "station_leader"]);
const PROOF = new Set(["admin", "venue_manager"]);
let refresh = [];

function field(key, input) {
  const label = el("label", "m-field");
  label.append(el("span", "", t(key)), input);
  return label;
}

function input(name, attrs = {}) {
  const node = el(attrs.tag || "input");
  node.name = name;
  for (const [k, v] of Object.entries(attrs)) if (k !== "tag") node.setAttribute(k, v);
  return node;
}

// ------------------------------------------------------------ hazards
async function loadHazards(id) {
  if (id !== undefined) { showHazard(id); return; }
  const status = $("mg-hazard-status").value;
  try {
    const rows = await getJSON(`${M}/hazards${status ? `?status=${status}` : ""}`);
    $("mg-hazard-list").replaceChildren(table(rows.reverse(),
      ["id", "venue_id", "severity", "description", "location", "status", "source", "found_at"],
      { rowClick: (r) => showHazard(r.id) }));
  } catch (err) { message($("mg-hazard-error"), err.message); }
}

// One piece of a telemetry hazard's evidence: the incident, the zone, hours offline.
function evidenceText(e) {
  const parts = [];
  if (e.incident) parts.push(tf("ev_incident", { id: e.incident }));
  if (e.zone) parts.push(tf("ev_zone", { zone: e.zone }));
  if (e.offline_h !== undefined) parts.push(tf("ev_offline", { device: e.device, h: e.offline_h }));
  else if (e.device) parts.push(tf("ev_device", { device: e.device }));
  return parts.join(" · ");
}

// The photos of the inspection that found the hazard and its own (thumbnails, a click
// enlarges); inspectors add one from the phone's camera.
function hazardPhotos(hazard) {
  const parts = [];
  if (hazard.photos.length) {
    const strip = el("div", "m-photos");
    strip.append(...hazard.photos.map((p) => thumbnail(p.id,
      tf("m_photo_of", { id: p.id, who: p.uploaded_by, at: when(p.uploaded_at) }))));
    parts.push(el("h4", "", t("m_photos")), strip);
  }
  if (INSPECTORS.has(role()) && hazard.status !== "closed") {
    const photo = input("photo", { type: "file", accept: "image/*", capture: "environment" });
    photo.classList.add("hazard-photo");
    photo.addEventListener("change", async () => {
      try {
        for (const file of photo.files) {
          await send(`${M}/photos?owner=hazard:${hazard.id}`, "POST", file,
            { "Content-Type": file.type || "image/jpeg" });
        }
        showHazard(hazard.id);
      } catch (err) { message($("mg-hazard-error"), err.message); }
    });
    parts.push(field("m_add_photo", photo));
  }
  return parts;
}

async function showHazard(id) {
  let hazard;
  try { hazard = await getJSON(`${M}/hazards/${id}`); } catch (err) {
    message($("mg-hazard-error"), err.message);
    return;
  }
  const box = $("mg-hazard");
  const head = el("h3", "", `${t("c_id")} ${hazard.id} · ${hazard.description}`);
  const facts = el("p", "m-facts", [cell("severity", hazard.severity), cell("status", hazard.status),
    hazard.venue_id, hazard.location, when(hazard.found_at)].filter(Boolean).join(" · "));
  const steps = hazard.timeline.map((s) => ({ ...s, action: s.action }));
  const list = el("ol", "m-timeline");
  for (const s of steps) {
    const li = el("li", "m-step");
    const key = `ha_${s.action.replace(/[ -]/g, "_")}`;
    li.append(el("time", "", when(s.at)), el("span", "m-action", t(key) === key ? s.action : t(key)),
      el("span", "m-actor", s.actor === "system" ? t("actor_system") : s.actor));
    list.append(li);
  }
  box.replaceChildren(head, facts, ...hazardPhotos(hazard), el("h4", "", t("m_timeline")), list);
  if (hazard.evidence && hazard.evidence.length) {
    const evidence = el("ul", "m-evidence");
    for (const e of hazard.evidence) evidence.append(el("li", "", evidenceText(e)));
    box.append(el("h4", "", t("m_evidence")), evidence);
  }
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
  refresh = [() => showHazard(id)];
}

$("mg-hazard-status").addEventListener("change", () => loadHazards());
onTab("mg-hazards", loadHazards);

// ------------------------------------------------------------ notices
async function loadNotices(id) {
  if (id !== undefined) { showNotice(id); return; }
  try {
    const rows = await getJSON(`${M}/notices`);
    $("mg-notice-list").replaceChildren(table(rows.reverse(),
      ["number", "venue_id", "kind", "deadline", "status", "issued_at"],
      { statusPrefix: "ns_", rowClick: (r) => showNotice(r.id) }));
  } catch (err) { message($("mg-notice-error"), err.message); }
}

function proofForm(notice, box) {
  const form = el("form", "m-form proof-form");
  const text = input("text", { tag: "textarea", required: "", maxlength: "4000", rows: "3" });
  const photo = input("photo", { type: "file", accept: "image/*", capture: "environment" });
  const submit = el("button", "", t("m_proof_send"));
  submit.type = "submit";
  form.append(el("h4", "", t("m_proof")), field("m_proof_text", text), field("m_proof_photo", photo), submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const photos = [];
      for (const file of photo.files) {
        const stored = await send(`${M}/photos?owner=notice:${notice.id}`, "POST", file,
          { "Content-Type": file.type || "image/jpeg" });
        photos.push(stored.id);
      }
      await send(`${M}/notices/${notice.id}/proof`, "POST",
        { text: text.value.trim(), photos, reinspection: true });
      message(box, t("m_proof_sent"), true);
      showNotice(notice.id);
    } catch (err) { message(box, err.message); }
  });
  return form;
}

function reinspectForm(notice, box) {
  const form = el("form", "m-form reinspect-form");
  const second = input("second", { required: "", maxlength: "64", autocomplete: "off" });
  const notes = input("notes", { tag: "textarea", maxlength: "4000", rows: "2" });
  const go = (passed) => async () => {
    try {
      const me = await getJSON("/api/me");
      await send(`${M}/notices/${notice.id}/reinspection`, "POST",
        { passed, inspectors: [me.username, second.value.trim()], notes: notes.value });
      message(box, t("m_saved"), true);
      showNotice(notice.id);
    } catch (err) { message(box, err.message); }
  };
  form.append(el("h4", "", t("m_reinspect")), field("m_co_inspector", second),
    field("m_reinspect_notes", notes), button("m_pass", go(true), "pass"), button("m_fail", go(false), "fail"));
  return form;
}

function penaltyForm(notice, box) {
  const form = el("form", "m-form penalty-form");
  const proposal = input("proposal", { tag: "textarea", required: "", maxlength: "2000", rows: "2" });
  const submit = el("button", "", t("m_propose"));
  submit.type = "submit";
  form.append(field("m_proposal", proposal), submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await send(`${M}/penalties`, "POST", { venue: notice.venue_id, notice: notice.id,
        proposal: proposal.value.trim() });
      message(box, t("m_saved"), true);
    } catch (err) { message(box, err.message); }
  });
  return form;
}

async function showNotice(id) {
  let notice;
  try { notice = await getJSON(`${M}/notices/${id}`); } catch (err) {
    message($("mg-notice-error"), err.message);
    return;
  }
  const box = $("mg-notice");
  const msg = el("div", "m-msg", "");
  msg.hidden = true;
  const pdf = el("a", "button m-pdf", t("m_pdf"));
  pdf.href = `${M}/notices/${notice.id}/pdf`;
  pdf.target = "_blank";
  const facts = el("p", "m-facts", [notice.station_name, notice.venue_name, cell("kind", notice.kind),
    notice.deadline ? `${t("c_deadline")} ${when(notice.deadline)}` : "",
    cell("status", notice.status, "ns_")].filter(Boolean).join(" · "));
  const hazards = table(notice.hazards, ["id", "severity", "description", "location", "status"],
    { rowClick: (h) => { location.hash = `#/hazard/${h.id}`; } });
  const proofs = el("ul", "m-proofs");
  for (const p of notice.proofs) {
    const li = el("li", "", `${when(p.submitted_at)} ${p.submitted_by}：${p.text}`);
    for (const photo of p.photos) li.append(thumbnail(photo, t("m_proof_photo")));
    proofs.append(li);
  }
  const parts = [el("h3", "", `${t("c_number")} ${notice.number}`), facts, pdf, hazards];
  if (notice.proofs.length) parts.push(el("h4", "", t("m_proof")), proofs);
  const r = role();
  if (notice.status !== "closed" && PROOF.has(r)) parts.push(proofForm(notice, msg));
  if (notice.status !== "closed" && INSPECTORS.has(r)) parts.push(reinspectForm(notice, msg), penaltyForm(notice, msg));
  box.replaceChildren(...parts, msg);
  box.hidden = false;
  refresh = [() => showNotice(id)];
}

onTab("mg-notices", loadNotices);

// ------------------------------------------------------------ penalty cases
function caseActions(row) {
  const r = role();
  if (row.status === "proposed" && LEADERS.has(r)) {
    const go = (approve) => async () => {
      try { await send(`${M}/penalties/${row.id}/approval`, "POST", { approve }); } catch (err) {
        message($("mg-penalty-error"), err.message);
      }
      loadPenalties();
    };
    return [button("m_approve", go(true), "approve"), button("m_reject", go(false), "reject")];
  }
  if (row.status === "approved" && INSPECTORS.has(r)) {
    const decision = el("select");
    decision.name = "decision";
    for (const d of ["warning", "fine"]) {
      const o = el("option", "", t(`dec_${d}`));
      o.value = d;
      decision.append(o);
    }
    const amount = input("amount", { type: "number", min: "1", placeholder: t("m_amount") });
    const go = async () => {
      try {
        await send(`${M}/penalties/${row.id}/decision`, "POST", { decision: decision.value,
          amount_yuan: decision.value === "fine" ? Number(amount.value) || null : null });
      } catch (err) { message($("mg-penalty-error"), err.message); }
      loadPenalties();
    };
    return [decision, amount, button("m_decide", go, "decide")];
  }
  return [];
}

async function loadPenalties() {
  try {
    const rows = await getJSON(`${M}/penalties`);
    $("mg-penalty-list").replaceChildren(table(rows, ["id", "venue_name", "notice_number", "proposal",
      "status", "proposed_by", "approved_by", "decision", "amount_yuan", "decided_by"],
    { statusPrefix: "ps_", extra: caseActions }));
  } catch (err) { message($("mg-penalty-error"), err.message); }
}

onTab("mg-penalties", loadPenalties);
onLangChange(() => {
  for (const page of ["mg-hazards", "mg-notices", "mg-penalties"]) applyStatic($(`tab-${page}`));
  for (const fn of refresh) fn();
});
