// alarmlink duty console: the queue. ES module, no dependencies but the vendored Leaflet.
// Live list from the /ws WebSocket: a "snapshot" of open incidents, then "incident"
// updates (newer `version`s win). The queue: unacknowledged first (new, or "new event
// since acknowledgement"), then priority (fire > panic/medical > tamper > trouble), then
// age, oldest first. Age counters tick every second; past the acknowledgement target
// (GET /api/console) an unacknowledged row turns amber, past the red bound red.
// Keyboard: ↑/↓ (or j/k) move, A acknowledges, Enter opens the detail pane.
import "/static/mgmt_i18n.js";   // the management messages, before the first applyStatic
import { alarmRole } from "/static/mgmt.js";
import { age, applyStatic, el, kind, onLangChange, setLang, currentLang, setZone, t, when }
  from "/static/i18n.js";
import { showDetail, refreshDetail, selectedId } from "/static/detail.js";
import { startMap, markIncidents } from "/static/map.js";
import { startHistory } from "/static/history.js";
import { startDevices, loadDevices, renderTroubles } from "/static/devices.js";

const $ = (id) => document.getElementById(id);
const api = window.alarmlink.api;
const KEEPALIVE_MS = 30000;
const KEY_STATION = "alarmlink.station";
const PRIORITY = { fire: 0, smoke: 0, heat: 0, panic: 1, medical: 1, intrusion: 2, tamper: 2 };
export const state = {
  incidents: new Map(), station: localStorage.getItem(KEY_STATION) || "", ws: null, retries: 0,
  audio: null, soundOn: false, settings: { ack_target_s: 30, ack_red_s: 60, timezone: "Asia/Shanghai" },
};

export const waiting = (i) => i.status === "new" || i.new_since_ack;
export const priority = (i) => i.category === "trouble" ? 3
  : Math.min(3, ...i.kinds.map((k) => PRIORITY[k] ?? 3));
const since = (iso) => (Date.now() - Date.parse(iso)) / 1000;
// An unacknowledged incident waits since it opened, or since the event after acknowledgement.
const waitedS = (i) => since(i.new_since_ack ? i.last_event_at : i.opened_at);

export function order(items) {
  return [...items].sort((a, b) => (waiting(b) - waiting(a)) || (priority(a) - priority(b))
    || (a.opened_at < b.opened_at ? -1 : a.opened_at > b.opened_at ? 1 : a.id - b.id));
}

// ------------------------------------------------------------ sound
function tone(ctx, freq, start, length) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = "square";
  osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  osc.connect(gain).connect(ctx.destination);
  osc.start(start);
  osc.stop(start + length + 0.02);
}

function sound(which) {
  if (!state.soundOn || !state.audio) return;
  document.body.dataset.lastSound = which;   // lets tests and kiosks see what played
  document.body.dataset.soundCount = String(Number(document.body.dataset.soundCount || 0) + 1);
  const at = state.audio.currentTime;
  if (which === "trouble") { tone(state.audio, 440, at, 0.35); tone(state.audio, 330, at + 0.4, 0.5); return; }
  for (let i = 0; i < 3; i++) {
    tone(state.audio, 960, at + i * 0.5, 0.22);
    tone(state.audio, 770, at + i * 0.5 + 0.25, 0.22);
  }
}
const pending = (category) => [...state.incidents.values()]
  .filter((i) => i.category === category && waiting(i)).length;

function updateSoundButton() {
  const button = $("sound");
  button.dataset.i18n = state.soundOn ? "sound_on" : "sound_off";
  button.textContent = t(button.dataset.i18n);
  button.className = state.soundOn ? "sound-on" : "sound-off";
  button.setAttribute("aria-pressed", String(state.soundOn));
  if (!state.soundOn && pending("alarm") + pending("trouble") > 0) button.classList.add("unheard");
}

$("sound").addEventListener("click", () => {
  if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
  state.audio.resume();
  state.soundOn = !state.soundOn;
  updateSoundButton();
  if (state.soundOn) sound("alarm");
});
setInterval(() => { if (pending("alarm") > 0) sound("alarm"); }, 4000);
setInterval(() => { if (pending("alarm") === 0 && pending("trouble") > 0) sound("trouble"); }, 20000);

// ------------------------------------------------------------ the queue
function ageClass(i) {
  if (!waiting(i)) return "";
  const s = waitedS(i);
  return s >= state.settings.ack_red_s ? "age-red" : s >= state.settings.ack_target_s ? "age-amber" : "";
}

function row(inc) {
  const li = el("li", `incident row cat-${inc.category} st-${inc.status} prio-${priority(inc)} ${ageClass(inc)}`);
  li.dataset.incidentId = inc.id;
  li.tabIndex = -1;
  if (inc.new_since_ack) li.classList.add("flagged");
  if (inc.id === selectedId()) li.classList.add("selected");
  const status = el("span", `status st-${inc.status}`, t(`st_${inc.status}`));
  const zones = Object.entries(inc.zones).map(([z, s]) => `${z} (${t(`zs_${s}`)})`);
  li.append(status,
    el("span", "kinds", inc.kinds.map(kind).join(" · ")),
    el("span", "venue", inc.venue_name),
    el("span", "zones", zones.join(", ")),
    el("span", "age", age(since(inc.opened_at))),
    el("span", "time", when(inc.opened_at)));
  if (inc.new_since_ack) li.append(el("span", "flag", t("new_since_ack")));
  if (inc.kinds.includes("talk_request")) {
    li.classList.add("talk");
    li.append(el("span", "flag talk", t("av_talk_request")));
  }
  li.addEventListener("click", () => select(inc.id));
  return li;
}

export function render() {
  const items = order([...state.incidents.values()].filter((i) => i.category === "alarm"));
  $("queue").replaceChildren(...items.map(row));
  $("empty").hidden = items.length > 0;
  renderTroubles(order([...state.incidents.values()].filter((i) => i.category === "trouble")), row);
  updateSoundButton();
  const n = pending("alarm");
  document.title = n ? `(${n}) ${t("cat_alarm")} · alarmlink` : `alarmlink · ${t("title")}`;
  markIncidents([...state.incidents.values()]);
}

// Age counters and the amber/red colour, every second, without rebuilding rows.
setInterval(() => {
  for (const li of document.querySelectorAll("li.incident.row")) {
    const inc = state.incidents.get(Number(li.dataset.incidentId));
    if (!inc) continue;
    li.querySelector(".age").textContent = age(since(inc.opened_at));
    li.classList.remove("age-amber", "age-red");
    const cls = ageClass(inc);
    if (cls) li.classList.add(cls);
  }
}, 1000);

export function select(id) {
  showDetail(state.incidents.get(id) || { id });
  for (const li of document.querySelectorAll("li.incident.row")) {
    li.classList.toggle("selected", Number(li.dataset.incidentId) === id);
  }
}

// Returns the sound an update deserves: "alarm", "trouble" or null.
export function upsert(inc) {
  const known = state.incidents.get(inc.id);
  if (known && known.version >= inc.version) return null;
  if (state.station && inc.station_id !== state.station) return null;
  if (inc.open) state.incidents.set(inc.id, inc); else state.incidents.delete(inc.id);
  if (inc.id === selectedId()) refreshDetail(inc);
  if (!inc.open) return null;
  const fresh = (!known && inc.status === "new") || (inc.new_since_ack && !(known && known.new_since_ack));
  if (inc.category === "alarm") return fresh ? "alarm" : null;
  return fresh ? "trouble" : null;
}

document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, textarea, select") || $("tab-queue").hidden) return;
  const ids = [...document.querySelectorAll("#queue li.incident")].map((li) => Number(li.dataset.incidentId));
  if (!ids.length) return;
  const at = ids.indexOf(selectedId());
  if (e.key === "ArrowDown" || e.key === "j") select(ids[Math.min(ids.length - 1, at + 1)]);
  else if (e.key === "ArrowUp" || e.key === "k") select(ids[Math.max(0, at - 1)]);
  else if (e.key === "Enter" && at < 0) select(ids[0]);
  else if ((e.key === "a" || e.key === "A") && at >= 0) $("detail").querySelector("button.ack")?.click();
  else return;
  e.preventDefault();
});

// ------------------------------------------------------------ live connection
function setConn(up) {
  const c = $("conn");
  c.textContent = t(up ? "ws_up" : "ws_down");
  c.className = `conn ${up ? "up" : "down"}`;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = state.station ? `?station=${encodeURIComponent(state.station)}` : "";
  const ws = new WebSocket(`${scheme}://${location.host}/ws${query}`);
  state.ws = ws;
  ws.onopen = () => { state.retries = 0; setConn(true); };
  const keepalive = setInterval(() => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping", id: Date.now() }));
  }, KEEPALIVE_MS);
  ws.addEventListener("close", (event) => {
    clearInterval(keepalive);
    if (event.code === 4401) window.alarmlink.showLogin(true);
  });
  ws.onmessage = (event) => {
    if (ws !== state.ws) return;
    const msg = JSON.parse(event.data);
    let fresh = null;
    if (msg.type === "snapshot") {
      state.incidents.clear();
      for (const inc of msg.incidents) upsert(inc);
    } else if (msg.type === "incident") {
      fresh = upsert(msg.incident);
      // a new alarm opens by itself (its live video with it) when the pane is free: nothing
      // selected, or what is selected was resolved or closed meanwhile
      const held = selectedId();
      if (fresh === "alarm" && (held === null || !state.incidents.has(held))) {
        setTimeout(() => select(msg.incident.id), 0);
      }
      if (msg.incident.category === "trouble") loadDevices(state.station);
    } else if (msg.type === "talk_request") {
      document.dispatchEvent(new CustomEvent("alarmlink:talk", { detail: msg }));
      return;
    } else if (msg.type === "av") {
      document.dispatchEvent(new CustomEvent("alarmlink:av", { detail: msg }));
      return;
    } else if (msg.type === "frame") {
      document.dispatchEvent(new CustomEvent("alarmlink:frame", { detail: msg.frame }));
      return;
    } else return;
    render();
    if (fresh) sound(fresh);
  };
  ws.onclose = () => {
    if (ws !== state.ws) return;
    setConn(false);
    setTimeout(connect, Math.min(10000, 500 * 2 ** state.retries++));
  };
}

function reconnect() {
  const old = state.ws;
  state.ws = null;
  if (old) old.close();
  state.incidents.clear();
  render();
  connect();
}

async function loadStations() {
  const response = await api("/api/stations");
  if (!response.ok) return;
  const select = $("station");
  for (const s of await response.json()) {
    const opt = el("option", "", `${s.name} (${s.county_name})`);
    opt.value = s.id;
    select.append(opt);
  }
  select.value = state.station;
  if (select.value !== state.station) { state.station = ""; reconnect(); }
}

$("station").addEventListener("change", (e) => {
  state.station = e.target.value;
  localStorage.setItem(KEY_STATION, state.station);
  reconnect();
  loadDevices(state.station);
});

for (const tab of document.querySelectorAll("[data-tab]")) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll("[data-tab]")) {
      other.setAttribute("aria-selected", String(other === tab));
      $(`tab-${other.dataset.tab}`).hidden = other !== tab;
    }
    document.dispatchEvent(new CustomEvent("alarmlink:tab", { detail: tab.dataset.tab }));
  });
}

document.addEventListener("alarmlink:incident", (e) => { upsert(e.detail); render(); });
for (const id of ["lang", "login-lang"]) {
  $(id).addEventListener("click", () => setLang(currentLang() === "en" ? "zh-CN" : "en"));
}
onLangChange(() => { setConn($("conn").classList.contains("up")); render(); });
applyStatic();

window.alarmlink.whenLoggedIn(async () => {
  if (!alarmRole()) return;   // inspectors, village assistants, venue managers: no queue
  const response = await api("/api/console");
  if (response.ok) state.settings = await response.json();
  setZone(state.settings.timezone);
  applyStatic();
  render();
  connect();
  loadStations();
  startDevices(() => state.station);
  startMap(state.settings.map);
  startHistory();
});
