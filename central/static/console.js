// alarmlink duty console. No dependencies, no external requests.
// Live list from the /ws WebSocket: a "snapshot" of open incidents, then
// "incident" updates. Newer `version`s win. Actions POST to /api/incidents/{id}/...
// Alarms and troubles have separate lists and sounds. The device board polls
// /api/devices (and /healthz, to warn when central itself cannot hear devices).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const OUTCOMES = [
    ["", "Outcome…"], ["real_fire", "Real fire"], ["false_alarm", "False alarm"],
    ["test", "Test"], ["malicious", "Malicious"], ["other", "Other"],
  ];
  const api = window.alarmlink.api;
  const KEEPALIVE_MS = 30000;  // a ping keeps the live push and the session in use
  const KEY_STATION = "alarmlink.station";
  const state = {
    incidents: new Map(),   // id -> incident (open ones only)
    outcomes: new Map(),    // id -> outcome chosen in the select, kept across re-renders
    station: localStorage.getItem(KEY_STATION) || "",
    ws: null,
    retries: 0,
    audio: null,            // AudioContext once the officer enabled sound
    soundOn: false,
  };

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

  // kind: "alarm" (urgent two-tone, three times) or "trouble" (one low chime).
  function sound(kind) {
    if (!state.soundOn || !state.audio) return;
    document.body.dataset.lastSound = kind;   // lets tests and kiosks see what played
    const t = state.audio.currentTime;
    if (kind === "trouble") {
      tone(state.audio, 440, t, 0.35);
      tone(state.audio, 330, t + 0.4, 0.5);
      return;
    }
    for (let i = 0; i < 3; i++) {
      tone(state.audio, 960, t + i * 0.5, 0.22);
      tone(state.audio, 770, t + i * 0.5 + 0.25, 0.22);
    }
  }
  const alertTone = () => sound("alarm");

  function unacknowledged(category) {
    return [...state.incidents.values()].filter(
      (i) => i.category === category && i.status === "new").length;
  }
  const unacknowledgedAlarms = () => unacknowledged("alarm");

  function updateSoundButton() {
    const button = $("sound");
    button.textContent = state.soundOn ? "Sound on" : "Enable sound";
    button.className = state.soundOn ? "sound-on" : "sound-off";
    button.setAttribute("aria-pressed", String(state.soundOn));
    if (!state.soundOn && unacknowledgedAlarms() + unacknowledged("trouble") > 0) {
      button.classList.add("unheard");
    }
  }

  $("sound").addEventListener("click", () => {
    if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
    state.audio.resume();
    state.soundOn = !state.soundOn;
    updateSoundButton();
    if (state.soundOn) alertTone();
  });

  // Keep sounding while an alarm waits for acknowledgement; troubles chime less often.
  setInterval(() => { if (unacknowledgedAlarms() > 0) alertTone(); }, 4000);
  setInterval(() => {
    if (unacknowledgedAlarms() === 0 && unacknowledged("trouble") > 0) sound("trouble");
  }, 20000);

  // ------------------------------------------------------------ rendering
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;   // never innerHTML: zones come from devices
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    const today = new Date().toDateString() === d.toDateString();
    const time = d.toLocaleTimeString([], { hour12: false });
    return today ? time : `${d.toLocaleDateString()} ${time}`;
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function card(inc) {
    const li = el("li", `incident cat-${inc.category} st-${inc.status}`);
    li.dataset.incidentId = inc.id;
    const head = el("div", "head");
    head.append(el("span", `status st-${inc.status}`, inc.status),
      el("span", "venue", inc.venue_name),
      el("span", "vkind", `${inc.venue_kind} · ${inc.category}`),
      el("span", "time", when(inc.opened_at)));
    const what = el("div", "what");
    what.append(el("strong", "kinds",
      inc.kinds.map((k) => k.replace(/_/g, " ")).join(", ").toUpperCase() + "  "));
    for (const [zone, zstate] of Object.entries(inc.zones)) {
      what.append(el("span", `zone z-${zstate}`, `${zone} (${zstate})`));
    }
    const who = [];
    if (inc.acknowledged_by) who.push(`acknowledged by ${inc.acknowledged_by} ${when(inc.acknowledged_at)}`);
    if (inc.dispatched_by) who.push(`dispatched by ${inc.dispatched_by} ${when(inc.dispatched_at)}`);
    const meta = el("div", "meta", [inc.station_name, inc.venue_address, `#${inc.id}`,
      inc.event_count ? `${inc.event_count} event${inc.event_count === 1 ? "" : "s"}` : "",
      ...who]
      .filter(Boolean).join(" · "));
    const actions = el("div", "actions");
    if (inc.status === "new") actions.append(button("Acknowledge", "ack", inc, "acknowledge"));
    if (inc.status === "new" || inc.status === "acknowledged") {
      actions.append(button("Dispatch", "dispatch", inc, "dispatch"));
    }
    const outcome = el("select", "outcome");
    outcome.setAttribute("aria-label", "Outcome");
    for (const [value, label] of OUTCOMES) {
      const opt = el("option", "", label);
      opt.value = value;
      opt.disabled = value === "";   // a placeholder: the officer must choose
      outcome.append(opt);
    }
    // Cards are rebuilt on every update: keep the officer's choice across re-renders.
    outcome.value = state.outcomes.get(inc.id) || "";
    outcome.addEventListener("change", () => state.outcomes.set(inc.id, outcome.value));
    actions.append(outcome, button("Resolve", "resolve", inc, "resolve", () => ({ outcome: outcome.value })));
    li.append(head, what, meta, actions);
    return li;
  }

  function button(label, className, inc, action, extra) {
    const b = el("button", className, label);
    b.type = "button";
    b.addEventListener("click", () => act(inc.id, action, extra ? extra() : {}, b));
    return b;
  }

  function render() {
    const items = [...state.incidents.values()].sort(
      (a, b) => (b.opened_at > a.opened_at ? 1 : b.opened_at < a.opened_at ? -1 : b.id - a.id));
    // Trouble is kept apart from alarm: two lists, alarms on top.
    for (const [category, listId, sectionId, countId] of [
      ["alarm", "alarms", "alarm-section", "alarm-count"],
      ["trouble", "troubles", "trouble-section", "trouble-count"]]) {
      const mine = items.filter((i) => i.category === category);
      $(listId).replaceChildren(...mine.map(card));
      $(sectionId).hidden = mine.length === 0;
      $(countId).textContent = `(${mine.length})`;
    }
    $("empty").hidden = items.length > 0;
    updateSoundButton();
    const waiting = unacknowledgedAlarms();
    document.title = waiting ? `(${waiting}) ALARM · alarmlink` : "alarmlink · duty console";
  }

  const ACTIVE = new Set(["alarm", "trouble", "offline", "stopped"]);
  const activeZones = (inc) => Object.values(inc.zones).filter((z) => ACTIVE.has(z)).length;

  // Returns the sound an update deserves: "alarm", "trouble" or null.
  function upsert(inc) {
    const known = state.incidents.get(inc.id);
    if (known && known.version >= inc.version) return null;
    if (state.station && inc.station_id !== state.station) return null;
    if (inc.open) state.incidents.set(inc.id, inc);
    else state.incidents.delete(inc.id);
    if (!inc.open) return null;
    if (inc.category === "alarm") return !known && inc.status === "new" ? "alarm" : null;
    return activeZones(inc) > (known ? activeZones(known) : 0) ? "trouble" : null;
  }

  // ------------------------------------------------------------ actions
  async function act(id, action, extra, b) {
    if (action === "resolve" && !extra.outcome) {
      showError("Choose the outcome before resolving.");
      return;
    }
    b.disabled = true;
    try {
      const response = await api(`/api/incidents/${id}/${action}`, {
        method: "POST",
        body: JSON.stringify({ ...extra }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        showError(`${action} failed: ${body.message || body.detail || response.status}`);
      } else {
        showError("");
        upsert(body);
        render();
      }
    } catch (err) {
      showError(`${action} failed: ${err}`);
    } finally {
      b.disabled = false;
    }
  }

  // ------------------------------------------------------------ live connection
  function setConn(up, text) {
    const c = $("conn");
    c.textContent = text;
    c.className = `conn ${up ? "up" : "down"}`;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = state.station ? `?station=${encodeURIComponent(state.station)}` : "";
    const ws = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    state.ws = ws;
    ws.onopen = () => { state.retries = 0; setConn(true, "live"); };
    const keepalive = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping", id: Date.now() }));
    }, KEEPALIVE_MS);
    ws.addEventListener("close", (event) => {
      clearInterval(keepalive);
      if (event.code === 4401) window.alarmlink.showLogin(true);  // the session ended
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
        if (msg.incident.category === "trouble") loadDevices();
      }
      render();
      if (fresh) sound(fresh);
    };
    ws.onclose = () => {
      if (ws !== state.ws) return;
      const delay = Math.min(10000, 500 * 2 ** state.retries++);
      setConn(false, `disconnected, retrying in ${Math.round(delay / 1000)} s`);
      setTimeout(connect, delay);
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
    try {
      const response = await api("/api/stations");
      const stations = await response.json();
      const select = $("station");
      for (const s of stations) {
        const opt = el("option", "", `${s.name} (${s.county_name})`);
        opt.value = s.id;
        select.append(opt);
      }
      select.value = state.station;
      if (select.value !== state.station) { state.station = ""; reconnect(); }
    } catch (err) {
      showError(`could not load stations: ${err}`);
    }
  }

  // ------------------------------------------------------------ device board
  function ago(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    if (seconds < 120) return `${Math.round(seconds)} s ago`;
    if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
    return `${Math.round(seconds / 3600)} h ago`;
  }

  const STATE_ORDER = { offline: 0, stopped: 1, never: 2, online: 3 };
  function deviceRow(d) {
    const tr = el("tr");
    tr.dataset.deviceId = d.device_id;
    const st = d.state || "never";
    let stateText = st === "never" ? "never connected" : st;
    if (d.down_reason === "silent") stateText += " (silent)";
    const stateCell = el("td");
    stateCell.append(el("span", `dev-state dev-${st}`, stateText));
    if (d.trouble_due_at && !d.trouble_incident_id) {
      stateCell.append(el("span", "meta", ` trouble at ${when(d.trouble_due_at)}`));
    }
    const cls = el("td", d.class_known ? "" : "warn",
      `${d.device_class} (${d.bound_s} s)${d.class_known ? "" : " unknown class"}`);
    const known = d.clock_offset_s !== null && d.clock_offset_s !== undefined;
    const clock = el("td", d.clock_skewed ? "warn clock-skewed" : "", !known ? "" :
      d.clock_skewed ? `SKEWED ${d.clock_offset_s.toFixed(1)} s` : "ok");
    tr.append(el("td", "", d.device_id), el("td", "", d.venue_name), stateCell,
      el("td", "", ago(d.silent_for_s)), cls, clock, el("td", "", String(d.dropouts)));
    return tr;
  }

  async function loadDevices() {
    const query = state.station ? `?station=${encodeURIComponent(state.station)}` : "";
    try {
      const response = await api(`/api/devices${query}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const devices = await response.json();
      devices.sort((a, b) => (STATE_ORDER[a.state || "never"] - STATE_ORDER[b.state || "never"])
        || a.device_id.localeCompare(b.device_id));
      $("devices").tBodies[0].replaceChildren(...devices.map(deviceRow));
      const down = devices.filter((d) => d.state === "offline" || d.state === "stopped").length;
      $("device-count").textContent = `(${devices.length}, ${down} not heard)`;
    } catch (err) {
      $("device-count").textContent = `(could not load: ${err})`;
    }
    try {
      const health = await (await fetch("/healthz")).json();
      const deaf = $("deaf");
      deaf.hidden = health.mqtt !== "disconnected" && health.mqtt !== "subscription_refused";
      deaf.textContent = deaf.hidden ? "" : (health.mqtt === "subscription_refused"
        ? "The MQTT broker refused central's subscriptions (" + (health.mqtt_error || "") +
          "): it hears no device, and device states below are not current."
        : "Central cannot reach the MQTT broker: it hears " +
          "no device, and device states below are not current.");
    } catch (err) {
      // the WebSocket indicator already shows that central is unreachable
    }
  }

  $("station").addEventListener("change", (e) => {
    state.station = e.target.value;
    localStorage.setItem(KEY_STATION, state.station);
    reconnect();
    loadDevices();
  });

  window.alarmlink.whenLoggedIn(() => {
    render();
    connect();
    loadStations();
    loadDevices();
    setInterval(loadDevices, 5000);
  });
})();
