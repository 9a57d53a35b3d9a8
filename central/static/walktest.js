// alarmlink duty console: walk-test banners. No dependencies, no inline styles.
// While a commissioning walk test runs, its venue's alarms are stored as tests and
// never reach this console: each such venue gets a banner saying so, why, and until
// when. Reads GET /api/commissioning/active at load, every 30 s, and when the
// earliest walk test ends. Fills <div id="walktests">; styles in walktest.css.
import { onLangChange, tf } from "/static/i18n.js";

(() => {
  const POLL_MS = 30000;
  const box = document.getElementById("walktests");
  if (!box) return;
  const sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = "/static/walktest.css";
  document.head.appendChild(sheet);
  let endTimer = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function banner(test) {
    const item = el("div", "walktest");
    item.setAttribute("role", "status");
    item.dataset.venue = test.venue_id;
    item.dataset.device = test.device_id;
    const venue = tf("w_venue", { venue: test.venue_name, station: test.station_name });
    item.appendChild(el("strong", "walktest-venue", venue));
    item.appendChild(el("p", "walktest-text", tf("w_text", {
      reason: test.reason, until: test.ends_at_local, device: test.device_id,
      by: test.started_by })));
    return item;
  }

  let last = [];
  function render(tests) {
    last = tests;
    const station = (document.getElementById("station") || {}).value || "";
    const shown = tests.filter((t) => !station || t.station_id === station);
    box.replaceChildren(...shown.map(banner));
    box.hidden = shown.length === 0;
    if (endTimer) clearTimeout(endTimer);
    const ends = tests.map((t) => Date.parse(t.ends_at)).filter((t) => !Number.isNaN(t));
    if (ends.length) {
      const wait = Math.max(1000, Math.min(...ends) - Date.now() + 500);
      endTimer = setTimeout(refresh, Math.min(wait, POLL_MS));
    }
  }

  async function refresh() {
    try {
      const resp = await window.alarmlink.api("/api/commissioning/active",
                                              { cache: "no-store" });
      if (resp.ok) render(await resp.json());
    } catch (err) {
      // offline: keep what is shown; the next poll tries again
    }
  }

  onLangChange(() => render(last));
  const select = document.getElementById("station");
  if (select) select.addEventListener("change", refresh);
  window.alarmlink.whenLoggedIn(() => {
    refresh();
    setInterval(refresh, POLL_MS);
  });
})();
