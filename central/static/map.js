// alarmlink console: venues on a Leaflet map (vendored: /static/vendor/leaflet), open
// alarms as blinking markers. The base layer is the station's own: a tile directory or
// one PMTiles file served by central (GET /api/console: map), or with none installed a
// plain background with the county outlines of the registry. No request leaves central.
import { kind } from "/static/i18n.js";

const api = window.alarmlink.api;
const L = window.L;
let map = null;
const markers = new Map();  // venue id -> Leaflet marker
let open = [];

function icon(state) {
  return L.divIcon({ className: `venue-marker vm-${state}`, iconSize: [18, 18] });
}

export async function startMap(settings) {
  if (!L || map) return;
  map = L.map("map", { attributionControl: false, zoomSnap: 0.5 });
  if (settings && settings.tiles === "xyz") {
    L.tileLayer(`${settings.url}.png`, { maxZoom: settings.max_zoom }).addTo(map);
  }
  const outlines = await (await api("/api/map/counties")).json();
  const layer = L.geoJSON(outlines, { style: { color: "#5c7cfa", weight: 2, fillOpacity: 0.05 } })
    .addTo(map);
  const venues = await (await api("/api/venues")).json();
  const placed = venues.filter((v) => v.lat !== null && v.lon !== null);
  document.getElementById("map-missing").textContent =
    venues.filter((v) => !placed.includes(v)).map((v) => v.name).join(", ") || "—";
  const bounds = layer.getBounds();   // a view first: markers get their elements on it
  if (bounds.isValid()) map.fitBounds(bounds);
  else if (placed.length) map.fitBounds(placed.map((v) => [v.lat, v.lon]), { padding: [40, 40] });
  else map.setView([23.9, 108.1], 9);
  for (const v of placed) {
    const marker = L.marker([v.lat, v.lon], { icon: icon("quiet"), title: v.name, keyboard: false })
      .addTo(map);
    marker.bindTooltip(v.name);
    const node = marker.getElement();
    if (node) node.dataset.venueId = v.id;
    markers.set(v.id, marker);
  }
  markIncidents(open);
  document.addEventListener("alarmlink:tab", (e) => { if (e.detail === "map") map.invalidateSize(); });
}

// Open incidents -> marker states: blinking red for an unacknowledged alarm.
export function markIncidents(incidents) {
  open = incidents;
  if (!map) return;
  const worst = new Map();
  for (const inc of incidents) {
    const s = inc.category === "trouble" ? "trouble"
      : (inc.status === "new" || inc.new_since_ack) ? "alarm" : "acked";
    const rank = { alarm: 3, acked: 2, trouble: 1 };
    if (!worst.has(inc.venue_id) || rank[s] > rank[worst.get(inc.venue_id).s]) {
      worst.set(inc.venue_id, { s, inc });
    }
  }
  for (const [id, marker] of markers) {
    const w = worst.get(id);
    const node = marker.getElement();
    if (!node) continue;
    node.className = node.className.replace(/\bvm-\w+/g, "").trim() + ` vm-${w ? w.s : "quiet"}`;
    marker.setTooltipContent(w ? `${w.inc.venue_name}: ${w.inc.kinds.map(kind).join(" · ")}`
      : marker.options.title);
  }
}
