// alarmlink duty console: the header's status pill tells the whole truth.
// "实时 / live" only when this console's WebSocket is up (console.js marks #conn with
// class "up") AND central's own /healthz is ok (broker link, database, ingest).
// Otherwise a red pill in the header names what is wrong: central lost the broker,
// its database fails, ingest lags, or this console lost central.
// /healthz is polled every POLL_MS (it is public and cheap; polling also works while
// the WebSocket is down and needs nothing from console.js but #conn's class).
import { onLangChange, t } from "/static/i18n.js";

(() => {
  const POLL_MS = 3000;
  const pill = document.getElementById("central-health");
  const conn = document.getElementById("conn");
  if (!pill || !conn) return;
  let health = null;        // last /healthz body, or null before the first answer
  let reachable = true;     // the last /healthz request got an answer
  let timer = null;

  const LABELS = { broker: "hp_broker", database: "hp_database", ingest: "hp_ingest" };

  function verdict() {
    const wsUp = conn.classList.contains("up");
    if (!wsUp) {
      return { ok: false, label: t("hp_lost"), detail: conn.textContent };
    }
    if (!reachable) {
      return { ok: false, label: t("hp_unknown"), detail: "" };
    }
    if (health === null) return { ok: false, pending: true, label: t("hp_connecting") };
    if (health.ok) return { ok: true, label: t("hp_live"), detail: "" };
    const problems = Array.isArray(health.problems) ? health.problems : [];
    const first = problems[0] || "";
    const part = first.split(":")[0];
    return { ok: false, label: t(LABELS[part] || "hp_unhealthy"),
             detail: problems.join("; ") };
  }

  function render() {
    const v = verdict();
    pill.replaceChildren();
    const label = document.createElement("strong");
    label.textContent = v.label;
    pill.append(label);
    if (v.detail) {
      const detail = document.createElement("span");
      detail.className = "health-detail";
      detail.textContent = ` — ${v.detail}`;   // text only: never innerHTML
      pill.append(detail);
    }
    pill.className = `conn ${v.ok ? "up" : "down"}`;
    pill.dataset.state = v.ok ? "live" : (v.pending ? "pending" : "down");
    pill.title = v.detail || v.label;
    pill.hidden = false;
    conn.hidden = true;   // the pill above says everything #conn said, and more
  }

  async function poll() {
    clearTimeout(timer);
    try {
      const response = await fetch("/healthz", { cache: "no-store" });
      health = await response.json();
      reachable = true;
    } catch (err) {
      reachable = false;
    }
    render();
    timer = setTimeout(poll, POLL_MS);
  }

  // Re-render as soon as console.js changes the WebSocket's state; poll at once when
  // it comes back, so "live" never waits for the next poll.
  new MutationObserver(() => {
    render();
    if (conn.classList.contains("up")) poll();
  }).observe(conn, { attributes: true, attributeFilter: ["class"], childList: true,
                     characterData: true, subtree: true });
  onLangChange(render);
  render();
  poll();
})();
