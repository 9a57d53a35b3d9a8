// alarmlink console: the audit of each incident on its card ("审计记录 · audit").
// Opening the fold loads GET /api/incidents/{id}/audit: who did what to the incident,
// allowed or refused, newest first. console.js rebuilds the cards on every update;
// this re-attaches the fold (open or closed, as the officer left it) from its cache.
"use strict";

(() => {
  const RESULT = { allowed: "允许 allowed", denied: "拒绝 denied" };
  const open = new Set();      // incident ids whose fold is open
  const rows = new Map();      // incident id -> the last rows loaded

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(iso) {
    return new Date(iso).toLocaleString("zh-CN", { hour12: false });
  }

  function fill(list, entries) {
    if (!entries.length) {
      list.replaceChildren(el("li", "none", "暂无记录 · nothing recorded"));
      return;
    }
    list.replaceChildren(...entries.map((r) => {
      const li = el("li", `audit-${r.result}`);
      li.append(el("time", "", clock(r.at)), el("span", "who", `${r.username} (${r.role || "-"})`),
        el("span", "what", r.action), el("span", "result", RESULT[r.result] || r.result));
      return li;
    }));
  }

  async function load(id, list) {
    try {
      const response = await window.alarmlink.api(`/api/incidents/${id}/audit`);
      if (!response.ok) {
        list.replaceChildren(el("li", "none", `无法加载 · cannot load (${response.status})`));
        return;
      }
      rows.set(id, await response.json());
      fill(list, rows.get(id));
    } catch (err) {
      list.replaceChildren(el("li", "none", `无法加载 · cannot load (${err})`));
    }
  }

  function attach(card) {
    const id = Number(card.dataset.incidentId);
    const fold = el("details", "incident-audit");
    fold.append(el("summary", "", "审计记录 · audit"));
    const list = el("ol", "audit-rows");
    fold.append(list);
    if (rows.has(id)) fill(list, rows.get(id));
    fold.open = open.has(id);
    fold.addEventListener("toggle", () => {
      if (fold.open) { open.add(id); load(id, list); } else open.delete(id);
    });
    card.append(fold);
  }

  new MutationObserver(() => {
    for (const card of document.querySelectorAll(".incident-detail[data-incident-id]")) {
      if (!card.querySelector(".incident-audit")) attach(card);
    }
  }).observe(document.querySelector("main"), { childList: true, subtree: true });
})();
