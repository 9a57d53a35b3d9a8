// alarmlink console: the duty roster tab (值班表). Who is on duty now at the chosen station,
// the shifts of the week from today, and, for roster.manage (station leaders, county
// command, admin), a form to add a shift and a button to remove one.
// GET /api/roster?station=S, POST /api/roster/shifts, DELETE /api/roster/shifts/{id}.
import { el, localDay, onLangChange, t, tf, when } from "/static/i18n.js";

(() => {
  const $ = (id) => document.getElementById(id);
  const MANAGERS = new Set(["admin", "station_leader", "county_command"]);
  let last = null;

  function station() {
    const select = $("station");
    if (select.value) return select.value;
    const first = [...select.options].find((o) => o.value);
    return first ? first.value : "";
  }

  function person(s) {
    const li = el("li", `duty duty-${s.duty}`);
    li.append(el("span", "duty-kind", t(`r_${s.duty}`)), el("span", "who", s.display_name || s.username),
      el("span", "phone", s.mobile || ""), el("span", "until", tf("r_until", { at: when(s.ends_at) })));
    return li;
  }

  function shiftRow(s, canManage) {
    const li = el("li", `shift duty-${s.duty}`);
    li.dataset.shiftId = s.id;
    li.append(el("span", "duty-kind", t(`r_${s.duty}`)), el("span", "who", s.username),
      el("time", "", `${when(s.starts_at)} – ${when(s.ends_at)}`));
    if (canManage) {
      const remove = el("button", "remove", t("r_remove"));
      remove.type = "button";
      remove.addEventListener("click", async () => {
        const response = await window.alarmlink.api(`/api/roster/shifts/${s.id}`, { method: "DELETE" });
        message(response.ok ? "" : `${t("action_failed")} (${response.status})`);
        load();
      });
      li.append(remove);
    }
    return li;
  }

  function render() {
    if (!last) return;
    const canManage = MANAGERS.has($("user-role").title);
    $("roster-form").hidden = !canManage;
    $("roster-station").textContent = last.station;
    const now = last.on_duty;
    $("roster-now").replaceChildren(...(now.length ? now.map(person) : [el("li", "none warn", t("r_nobody"))]));
    const week = $("roster-week");
    const days = [];
    for (let i = 0; i < 7; i++) {
      const start = new Date(Date.now() + i * 86400000);
      const day = localDay(start);
      const shifts = last.shifts.filter((s) => localDay(new Date(s.starts_at)) <= day
        && localDay(new Date(s.ends_at)) >= day).sort((a, b) => a.starts_at.localeCompare(b.starts_at));
      const col = el("li", "roster-day");
      col.append(el("h4", "", day));
      const list = el("ul", "shifts");
      list.replaceChildren(...(shifts.length ? shifts.map((s) => shiftRow(s, canManage))
        : [el("li", "none", t("r_no_shifts"))]));
      col.append(list);
      days.push(col);
    }
    week.replaceChildren(...days);
  }

  function message(text) {
    const box = $("roster-error");
    box.textContent = text;
    box.hidden = !text;
  }

  async function load() {
    const id = station();
    if (!id) return;
    const response = await window.alarmlink.api(`/api/roster?station=${encodeURIComponent(id)}`);
    if (!response.ok) { message(`${t("action_failed")} (${response.status})`); return; }
    last = await response.json();
    render();
  }

  $("roster-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const starts = new Date(form.starts.value);
    if (Number.isNaN(starts.getTime())) { message(t("r_bad_time")); return; }
    const ends = new Date(starts.getTime() + Number(form.hours.value) * 3600000);
    const response = await window.alarmlink.api("/api/roster/shifts", { method: "POST",
      body: JSON.stringify({ station: station(), username: form.username.value.trim(),
        duty: form.duty.value, starts_at: starts.toISOString(), ends_at: ends.toISOString() }) });
    if (response.ok) { message(""); form.username.value = ""; }
    else {
      const body = await response.json().catch(() => ({}));
      message(`${t("action_failed")} (${response.status})`);
      $("roster-error").title = typeof body.detail === "string" ? body.detail : "";
    }
    load();
  });

  document.addEventListener("alarmlink:tab", (e) => { if (e.detail === "roster") load(); });
  $("station").addEventListener("change", () => { if (!$("tab-roster").hidden) load(); });
  setInterval(() => { if (!$("tab-roster").hidden) load(); }, 30000);
  onLangChange(render);
})();
