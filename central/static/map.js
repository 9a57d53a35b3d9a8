// alarmlink console: venues on a Leaflet map (vendored: /static/vendor/leaflet), open
// alarms as blinking markers. The base layer is the station's own: a tile directory or
// one PMTiles file served by central (GET /api/console: map), or with none installed a
// plain background with the county outlines of the registry. No request leaves central.
import { el, kind, t } from "/static/i18n.js";

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
  const missing = [];
  const points = [];
  for (const v of venues) {
    if (v.lat === null || v.lon === null) { missing.push(v.name); continue; }
    const marker = L.marker([v.lat, v.lon], { icon: icon("quiet"), title: v.name,
      keyboard: false }).addTo(map);
    marker.getElement().dataset.venueId = v.id;
    marker.bindTooltip(v.name);
    markers.set(v.id, marker);
    points.push([v.lat, v.lon]);
  }
  document.getElementById("map-missing").textContent = missing.join(", ") || "—";
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds);
  else if (points.length) map.fitBounds(points, { padding: [40, 40] });
  else map.setView([23.9, 108.1], 9);
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
    node.className = node.className.replace(/\bvm-\w+/g, "").trim() + ` vm-${w ? w.s : "quiet"}`;
    marker.setTooltipContent(w ? `${w.inc.venue_name}: ${w.inc.kinds.map(kind).join(" · ")}`
      : marker.options.title);
  }
}
export { el, t };
