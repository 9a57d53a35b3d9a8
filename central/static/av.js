// alarmlink console: live audio and video from the venue on an alarm's detail pane.
// WebRTC straight from the venue agent to this browser on the station network (no STUN
// or TURN: iceServers is empty); central only relays the one offer and one answer:
// POST /api/incidents/{id}/av {sdp} -> {session_id, sdp}. Opens by itself when a new
// alarm's card appears; "Hold to talk" (push-to-talk) and "Open line" send the officer's
// microphone to the venue speaker (echo cancellation on). A broken connection, or
// central's {"type": "av", "state": "ended"} push, shows "video lost" and offers
// "Reopen". Each session element is kept per incident while its card is shown.
import { el, onLangChange, t } from "/static/i18n.js";

const sessions = new Map();   // incident id -> session state
const api = (path, body) => window.alarmlink.api(path, { method: "POST", body: JSON.stringify(body) });

function stateFor(id) {
  if (!sessions.has(id)) {
    const video = el("video", "av-video");
    video.autoplay = true;
    video.playsInline = true;
    video.muted = false;
    sessions.set(id, { id, pc: null, mic: null, sessionId: null, state: "idle", reason: "",
      openLine: false, talking: false, video, box: el("section", "av-live"), autoOpened: false });
  }
  return sessions.get(id);
}

function setMic(s) {
  const on = s.openLine || s.talking;
  if (s.mic) for (const track of s.mic.getAudioTracks()) track.enabled = on;
  s.box.classList.toggle("talking", on);
}

function button(cls, key, onClick) {
  const b = el("button", cls, t(key));
  b.type = "button";
  b.addEventListener("click", () => onClick(b));
  return b;
}

function draw(s) {
  const box = s.box;
  box.dataset.state = s.state;
  box.setAttribute("aria-label", t("av_title"));
  const head = el("h3", "", t("av_title"));
  const status = el("span", `av-state av-${s.state}`, t(`av_${s.state}`) + (s.reason ? ` (${s.reason})` : ""));
  const controls = el("div", "av-actions");
  if (s.state === "idle" || s.state === "lost" || s.state === "ended") {
    controls.append(button("av-open", s.state === "idle" ? "av_open" : "av_reopen", () => open(s.id)));
  } else {
    const talk = button("av-talk", "av_talk", () => {});
    const hold = (on) => () => { s.talking = on; setMic(s); };
    talk.addEventListener("pointerdown", hold(true));
    for (const ev of ["pointerup", "pointerleave"]) talk.addEventListener(ev, hold(false));
    const line = button(`av-line${s.openLine ? " on" : ""}`, s.openLine ? "av_line_off" : "av_line", () => {
      s.openLine = !s.openLine;
      setMic(s);
      draw(s);
    });
    line.setAttribute("aria-pressed", String(s.openLine));
    controls.append(talk, line, button("av-close", "av_close", () => close(s, "ended")));
  }
  const parts = [head, status];
  if (s.talkRequest && !s.answered) {
    const banner = el("p", "av-talk-request", t("av_talk_request"));
    banner.setAttribute("role", "alert");
    banner.append(" ", button("av-answer", "av_answer", () => answer(s)));
    parts.push(banner);
  }
  box.replaceChildren(...parts, s.video, controls);
}

// Answer the venue's talk request: the video (opened if it is not) with the line open.
function answer(s) {
  s.answered = true;
  s.openLine = true;
  if (s.state === "idle" || s.state === "lost" || s.state === "ended") open(s.id);
  else { setMic(s); draw(s); }
}

function set(s, state, reason = "") {
  s.state = state;
  s.reason = reason;
  draw(s);
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 2000);   // host candidates come at once; never wait for more
  });
}

async function open(id) {
  const s = stateFor(id);
  // Reopening after "video lost": the old session is still open at central (a killed
  // agent says nothing); end it there so the timeline closes it.
  if (s.sessionId) api(`/api/av/${s.sessionId}/close`, {}).catch(() => {});
  s.sessionId = null;
  if (s.pc) s.pc.close();
  set(s, "connecting");
  const pc = new RTCPeerConnection({ iceServers: [] });
  s.pc = pc;
  if (!s.mic) {
    s.mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    }).catch(() => null);
  }
  if (s.mic) for (const track of s.mic.getAudioTracks()) pc.addTrack(track, s.mic);
  else pc.addTransceiver("audio", { direction: "recvonly" });
  setMic(s);
  pc.addTransceiver("video", { direction: "recvonly" });
  const stream = new MediaStream();
  pc.ontrack = (e) => { stream.addTrack(e.track); s.video.srcObject = stream; };
  pc.onconnectionstatechange = () => {
    if (s.pc !== pc) return;
    if (pc.connectionState === "connected") set(s, "live");
    else if (pc.connectionState === "disconnected" || pc.connectionState === "failed") set(s, "lost");
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const response = await api(`/api/incidents/${id}/av`, { sdp: pc.localDescription.sdp });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      set(s, "lost", body.message || body.detail || String(response.status));
      return;
    }
    s.sessionId = body.session_id;
    s.answerSdp = body.sdp;
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
  } catch (err) {
    set(s, "lost", String(err));
  }
}

function close(s, state) {
  // Central ends the session first (it tells the venue and puts the officer's name on the
  // timeline); the connection closes after. Closed first, the venue would see its peer go
  // and end the session itself, and the officer's close would come too late.
  const pc = s.pc;
  const ending = s.sessionId && state === "ended"
    ? api(`/api/av/${s.sessionId}/close`, {}).catch(() => {}) : Promise.resolve();
  ending.finally(() => { if (pc) pc.close(); });
  s.pc = null;
  s.sessionId = null;
  set(s, state);
}

function cards() {
  return [...document.querySelectorAll(".incident-detail.cat-alarm[data-incident-id]")];
}

// The card is rebuilt by detail.js (it keeps .av-live); put the session's box back and
// open the session by itself for an alarm nobody has acknowledged yet.
new MutationObserver(() => {
  const shown = new Set();
  for (const card of cards()) {
    const id = Number(card.dataset.incidentId);
    shown.add(id);
    const s = stateFor(id);
    const kinds = (card.dataset.kinds || "").split(" ");
    const asked = kinds.includes("talk_request");
    if (s.box.parentElement !== card || (asked && !s.talkRequest)) {
      if (asked && !s.talkRequest) {
        s.talkRequest = true;
        s.answered = card.dataset.talkAnswered === "true";   // e.g. after a page reload
      }
      card.insertBefore(s.box, card.querySelector(".filmstrip"));
      draw(s);
    }
    // a new alarm's video opens by itself; a talk request alone waits for "Answer"
    const talkOnly = kinds.length === 1 && asked;
    if (!s.autoOpened && !talkOnly && card.classList.contains("st-new")) {
      s.autoOpened = true;
      open(id);
    }
  }
  for (const [id, s] of sessions) if (!shown.has(id)) { close(s, "ended"); sessions.delete(id); }
}).observe(document.querySelector("main"), { childList: true, subtree: true });

// Central: the agent ended the session (time limit, agent gone) or the incident was resolved.
document.addEventListener("alarmlink:av", (e) => {
  const s = sessions.get(e.detail.incident_id);
  if (s && s.sessionId === e.detail.session_id) {
    s.sessionId = null;   // already ended at central: nothing to ask it
    close(s, e.detail.reason === "incident resolved" ? "ended" : "lost");
  }
});
// The venue asks to talk (its talk button): a banner with "Answer" on the incident's live
// pane until the officer answers (video + open line); the incident's kinds and timeline
// say so too (k_talk_request, t_talk_request). A talk request with no alarm opens its own
// incident (kind talk_request), whose video does not open by itself.
document.addEventListener("alarmlink:talk", (e) => {
  const s = stateFor(e.detail.incident_id);
  s.talkRequest = e.detail.at;
  s.answered = false;   // a new press asks again
  draw(s);
});
onLangChange(() => { for (const s of sessions.values()) draw(s); });
window.alarmlink.av = sessions;   // for the duty-room diagnostics and the tests
