// alarmlink console: the device board (online/offline, last heartbeat, outbox depth,
// signal, software version, walk test), the trouble list kept apart from alarms, and the
// red banner across the top when central cannot hear devices (GET /healthz: mqtt).
import { ago, el, onLangChange, t } from "/static/i18n.js";

const api = window.alarmlink.api;
const $ = (id) => document.getElementById(id);
const HEALTH_MS = 1000;
const STATE_ORDER = { offline: 0, stopped: 1, never: 2, online: 3 };
let stationOf = () => "";
let lastDevices = [];
let lastHealth = null;

function clock(d) {
  const known = d.clock_offset_s !== null && d.clock_offset_s !== undefined;
  return el("td", d.clock_skewed ? "warn clock-skewed" : "",
    !known ? "" : d.clock_skewed ? `${t("d_skewed")} ${d.clock_offset_s.toFixed(1)} s` : t("d_clock_ok"));
}

function deviceRow(d) {
  const tr = el("tr");
  tr.dataset.deviceId = d.device_id;
  const st = d.state || "never";
  const stateCell = el("td");
  stateCell.append(el("span", `dev-state dev-${st}`, t(`d_${st}`)));
  const signal = d.signal_dbm ?? (d.inputs && d.inputs.signal_dbm);
  tr.append(el("td", "", d.device_id), el("td", "", d.venue_name), stateCell,
    el("td", "", ago(d.silent_for_s)), el("td", "", d.outbox_depth ?? "—"),
    el("td", "", signal === undefined || signal === null ? "—" : `${signal} dBm`),
    el("td", "", d.version || "—"), el("td", "", d.commissioning ? t("d_walking") : "—"), clock(d));
  return tr;
}

function renderDevices() {
  $("devices").tBodies[0].replaceChildren(...lastDevices.map(deviceRow));
  const down = lastDevices.filter((d) => d.state === "offline" || d.state === "stopped").length;
  $("device-count").textContent = `(${lastDevices.length}, ${down} ${t("d_offline")})`;
}

export async function loadDevices(station) {
  const query = station ? `?station=${encodeURIComponent(station)}` : "";
  const response = await api(`/api/devices${query}`);
  if (!response.ok) return;
  lastDevices = (await response.json()).sort((a, b) =>
    (STATE_ORDER[a.state || "never"] - STATE_ORDER[b.state || "never"]) || a.device_id.localeCompare(b.device_id));
  renderDevices();
}

export function renderTroubles(troubles, row) {
  $("troubles").replaceChildren(...troubles.map(row));
  $("troubles-empty").hidden = troubles.length > 0;
}

function renderBanner() {
  const banner = $("deaf");
  const mqtt = lastHealth && lastHealth.mqtt;
  const deaf = mqtt === "disconnected" || mqtt === "subscription_refused";
  banner.hidden = !deaf;
  banner.textContent = !deaf ? "" : t(mqtt === "subscription_refused" ? "deaf_refused" : "deaf");
  document.body.classList.toggle("central-deaf", deaf);
}

async function pollHealth() {
  try {
    lastHealth = await (await fetch("/healthz", { cache: "no-store" })).json();
  } catch (err) {
    lastHealth = null;   // the header's pill shows that this console lost central
  }
  renderBanner();
  setTimeout(pollHealth, HEALTH_MS);
}

export function startDevices(station) {
  stationOf = station;
  loadDevices(stationOf());
  setInterval(() => loadDevices(stationOf()), 5000);
  pollHealth();
}

onLangChange(() => { renderDevices(); renderBanner(); });
