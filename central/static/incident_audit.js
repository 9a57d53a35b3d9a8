// alarmlink console: the audit of each incident on its card ("审计记录 · audit").
// Opening the fold loads GET /api/incidents/{id}/audit: who did what to the incident,
// allowed or refused, newest first. console.js rebuilds the cards on every update;
// this re-attaches the fold (open or closed, as the officer left it) from its cache.
import { onLangChange, t, when } from "/static/i18n.js";

(() => {
  const open = new Set();      // incident ids whose fold is open
  const rows = new Map();      // incident id -> the last rows loaded

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }


  function fill(list, entries) {
    if (!entries.length) {
      list.replaceChildren(el("li", "none", t("a_none")));
      return;
    }
    list.replaceChildren(...entries.map((r) => {
      const li = el("li", `audit-${r.result}`);
      li.append(el("time", "", when(r.at)), el("span", "who", `${r.username} (${r.role ? t(`role_${r.role}`, r.role) : "-"})`),
        el("span", "what", r.action), el("span", "result", t(`a_${r.result}`)));
      return li;
    }));
  }

  async function load(id, list) {
    try {
      const response = await window.alarmlink.api(`/api/incidents/${id}/audit`);
      if (!response.ok) {
        list.replaceChildren(el("li", "none", `${t("a_cannot")} (${response.status})`));
        return;
      }
      rows.set(id, await response.json());
      fill(list, rows.get(id));
    } catch (err) {
      list.replaceChildren(el("li", "none", `${t("a_cannot")} (${err})`));
    }
  }

  function attach(card) {
    const id = Number(card.dataset.incidentId);
    const fold = el("details", "incident-audit");
    const summary = el("summary", "", t("audit"));
    summary.dataset.i18n = "audit";
    fold.append(summary);
    const list = el("ol", "audit-rows");
    fold.append(list);
    if (rows.has(id)) fill(list, rows.get(id));
    fold.open = open.has(id);
    fold.addEventListener("toggle", () => {
      if (fold.open) { open.add(id); load(id, list); } else open.delete(id);
    });
    card.append(fold);
  }

  onLangChange(() => {
    for (const list of document.querySelectorAll(".incident-audit .audit-rows")) {
      const id = Number(list.closest("[data-incident-id]").dataset.incidentId);
      if (rows.has(id)) fill(list, rows.get(id));
    }
  });
  new MutationObserver(() => {
    for (const card of document.querySelectorAll(".incident-detail[data-incident-id]")) {
      if (!card.querySelector(".incident-audit")) attach(card);
    }
  }).observe(document.querySelector("main"), { childList: true, subtree: true });
})();
