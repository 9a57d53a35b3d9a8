// alarmlink console: the escalation status on an incident's detail pane (升级通知): the
// current stage and when the next is due, who was notified by which channel with each
// result, and the buttons 通知119 / 通知120 / 通知村防火队 with the countdown from the first
// alarm event to the target (120 s). GET /api/incidents/{id}/notifications, refreshed
// every few seconds while the pane is open; POST /api/incidents/{id}/notify.
import { el, onLangChange, t, tf, when } from "/static/i18n.js";

(() => {
  const cache = new Map();   // incident id -> { data, loadedAt }
  const SERVICES = [["119", "e_notify_119"], ["120", "e_notify_120"], ["village", "e_notify_village"]];

  function countdownText(entry) {
    const left = entry.data.countdown_s - (Date.now() - entry.loadedAt) / 1000;
    if (left === null || Number.isNaN(left)) return "";
    if (left <= 0) return tf("e_overdue", { s: Math.round(-left) });
    return tf("e_countdown", { s: Math.ceil(left) });
  }

  function stageText(esc) {
    if (!esc) return t("e_none");
    if (esc.stopped_at) return tf("e_stopped", { reason: stopReason(esc.stopped_reason) });
    return tf("e_stage", { stage: esc.stage, next: when(esc.next_at) });
  }

  function stopReason(reason) {
    if (!reason) return "";
    if (reason.startsWith("acknowledged by ")) return tf("e_r_ack", { user: reason.slice(16) });
    const key = { "all stages run": "e_r_done", cooldown: "e_r_cooldown", resolved: "e_r_resolved",
      closed: "e_r_resolved", "no policy": "e_r_none" }[reason];
    return key ? t(key) : reason;
  }

  function row(n) {
    const li = el("li", `notif notif-${n.state}`);
    const last = n.attempts_log.length ? n.attempts_log[n.attempts_log.length - 1] : null;
    const who = n.recipient.startsWith("contact:") ? n.recipient.slice(8) : n.recipient;
    li.append(el("span", "who", `${who} ${n.phone}`), el("span", "channel", t(`e_ch_${n.channel}`)),
      el("span", "state", t(`e_st_${n.state}`)), el("time", "", when(n.sent_at || n.created_at)));
    if (last) li.title = `${last.result}: ${last.detail}`;
    return li;
  }

  function render(box, id) {
    const entry = cache.get(id);
    if (!entry) return;
    box.querySelector(".e-stage").textContent = stageText(entry.data.escalation);
    box.querySelector(".e-countdown").textContent = countdownText(entry);
    const list = box.querySelector(".e-list");
    const rows = entry.data.notifications;
    list.replaceChildren(...(rows.length ? rows.map(row) : [el("li", "none", t("e_nobody"))]));
  }

  async function load(id, box) {
    try {
      const response = await window.alarmlink.api(`/api/incidents/${id}/notifications`);
      if (!response.ok) return;
      cache.set(id, { data: await response.json(), loadedAt: Date.now() });
      render(box, id);
    } catch (err) { /* the health pill shows a lost central; keep the last view */ }
  }

  async function notify(id, service, box) {
    const status = box.querySelector(".e-result");
    const response = await window.alarmlink.api(`/api/incidents/${id}/notify`,
      { method: "POST", body: JSON.stringify({ service }) });
    if (response.ok) {
      const answer = await response.json();
      status.textContent = tf("e_notified", { service: t(`e_svc_${service}`), s: Math.round(answer.countdown_s) });
      status.className = "e-result ok";
    } else {
      status.textContent = `${t("action_failed")} (${response.status})`;
      status.className = "e-result error";
    }
    load(id, box);
  }

  function attach(card) {
    const id = Number(card.dataset.incidentId);
    const box = el("section", "escalation");
    const title = el("h3", "", t("e_title"));
    title.dataset.i18n = "e_title";
    const buttons = el("div", "e-buttons");
    for (const [service, key] of SERVICES) {
      const button = el("button", `notify notify-${service}`, t(key));
      button.type = "button";
      button.dataset.i18n = key;
      button.addEventListener("click", () => notify(id, service, box));
      buttons.append(button);
    }
    box.append(title, el("p", "e-stage"), el("p", "e-countdown"), buttons,
      el("p", "e-result"), el("ul", "e-list"));
    card.append(box);
    render(box, id);
    load(id, box);
  }

  setInterval(() => {
    for (const box of document.querySelectorAll(".incident-detail .escalation")) {
      const id = Number(box.closest("[data-incident-id]").dataset.incidentId);
      const entry = cache.get(id);
      if (entry && Date.now() - entry.loadedAt > 4000) load(id, box);
      else render(box, id);
    }
  }, 1000);
  onLangChange(() => {
    for (const box of document.querySelectorAll(".incident-detail .escalation")) {
      render(box, Number(box.closest("[data-incident-id]").dataset.incidentId));
    }
  });
  new MutationObserver(() => {
    for (const card of document.querySelectorAll(".incident-detail[data-incident-id]")) {
      if (!card.querySelector(".escalation")) attach(card);
    }
  }).observe(document.querySelector("main"), { childList: true, subtree: true });
})();
