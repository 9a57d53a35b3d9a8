// alarmlink console: the inspection form (现场检查), made for a phone on site (390 px wide
// and up): the venue, place, time and the second inspector; the venue category's checklist
// (GET /api/management/checklists) with a result, severity and note per item; notes; photos
// from the phone's camera (<input type=file accept=image/* capture=environment>).
// POST /api/management/inspections records it (the recording inspector signs at once;
// each failed item opens a hazard), then each photo is POSTed with owner inspection:ID.
// Below: the records naming me that I have not signed, with the button to sign (确认签名).
import { applyStatic, el, onLangChange, t, tf } from "/static/i18n.js";
import { button, getJSON, message, onTab, send } from "/static/mgmt.js";

const $ = (id) => document.getElementById(id);
const M = "/api/management";
const form = $("mg-inspect-form");
let venues = [];
let me = null;
let wanted = null;

function option(value, key, text) {
  const o = el("option", "", text ?? t(key));
  o.value = value;
  if (key) o.dataset.i18n = key;
  return o;
}

function itemRow(item) {
  const li = el("li", "m-item");
  li.dataset.code = item.code;
  const result = el("select", "result");
  result.append(option("pass", "i_pass"), option("fail", "i_fail"), option("na", "i_na"));
  result.setAttribute("aria-label", item.text);
  const severity = el("select", "severity");
  severity.append(option("general", "sev_general"), option("major", "sev_major"));
  const note = el("input", "note");
  note.maxLength = 1000;
  note.dataset.i18nPlaceholder = "i_note";
  note.placeholder = t("i_note");
  const controls = el("div", "m-item-controls");
  controls.append(result, severity);
  li.append(el("span", "m-item-text", item.text), el("small", "m-rule", `${t("i_rule")}：${item.rule}`),
    controls, note);
  return li;
}

async function loadItems() {
  const venue = venues.find((v) => v.venue_id === form.venue.value);
  if (!venue) { $("mg-items").replaceChildren(); return; }
  try {
    const list = await getJSON(`${M}/checklists?station=${encodeURIComponent(venue.station_id)}`
      + `&category=${encodeURIComponent(venue.kind)}`);
    $("mg-items").replaceChildren(...list.items.map(itemRow));
    if (!form.place.value) form.place.value = venue.name;
  } catch (err) { message($("mg-inspect-msg"), err.message); }
}

async function loadWaiting() {
  const rows = await getJSON(`${M}/inspections`).catch(() => []);
  const mine = rows.filter((r) => me && r.inspectors.includes(me.username) && !r.signed_by.includes(me.username));
  const items = mine.map((r) => {
    const li = el("li", "m-waiting");
    li.dataset.id = r.id;
    li.append(el("span", "", `${t("c_id")} ${r.id} · ${r.venue_id} · ${r.place}`),
      el("small", "", tf("i_signed", { who: r.signed_by.join("、") })),
      button("i_confirm", async () => {
        try { await send(`${M}/inspections/${r.id}/confirm`, "POST", {}); } catch (err) {
          message($("mg-inspect-msg"), err.message);
        }
        loadWaiting();
      }, "confirm"));
    return li;
  });
  const list = el("ul", "m-waiting-list");
  list.append(...items);
  $("mg-waiting").replaceChildren(items.length ? list : el("p", "empty", t("m_none")));
}

// venue: from a #/inspect/VENUE link (an overdue plan): that venue, its checklist shown.
async function load(venue) {
  if (typeof venue === "string") wanted = venue;
  try {
    me = me || await getJSON("/api/me");
    venues = await getJSON(`${M}/venues`);
  } catch (err) { message($("mg-inspect-msg"), err.message); return; }
  const chosen = wanted ?? form.venue.value;
  form.venue.replaceChildren(option("", "i_choose_venue"),
    ...venues.map((v) => option(v.venue_id, null, `${v.name}（${v.venue_id}）`)));
  form.venue.value = chosen;
  if (wanted !== null && form.venue.value === wanted) { wanted = null; loadItems(); }
  if (!form.when.value) {
    const now = new Date();
    now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
    form.when.value = now.toISOString().slice(0, 16);
  }
  loadWaiting();
}

form.venue.addEventListener("change", loadItems);
form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const box = $("mg-inspect-msg");
  if (!form.venue.value) { message(box, t("i_choose_venue")); return; }
  if (!form.second.value.trim()) { message(box, t("i_need_second")); return; }
  const results = [...$("mg-items").querySelectorAll(".m-item")].map((li) => ({
    code: li.dataset.code, result: li.querySelector(".result").value,
    severity: li.querySelector(".severity").value, note: li.querySelector(".note").value.trim(),
  }));
  try {
    const record = await send(`${M}/inspections`, "POST", {
      venue: form.venue.value, place: form.place.value.trim(),
      inspected_at: new Date(form.when.value).toISOString(),
      inspectors: [me.username, form.second.value.trim()], results, notes: form.notes.value,
    });
    let photos = 0;
    for (const file of form.photo.files) {
      await send(`${M}/photos?owner=inspection:${record.id}`, "POST", file,
        { "Content-Type": file.type || "image/jpeg" });
      photos += 1;
    }
    message(box, tf("i_stored", { id: record.id, n: record.hazards.length, p: photos }), true);
    box.dataset.inspectionId = record.id;
    form.reset();
    $("mg-items").replaceChildren();
    load();
  } catch (err) { message(box, err.message); }
});

onTab("mg-inspect", load);
onLangChange(() => { applyStatic($("tab-mg-inspect")); loadWaiting(); });
