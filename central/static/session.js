// alarmlink console: login, logout and authenticated requests. Loaded before console.js.
// window.alarmlink.api(url, options): fetch with the session cookie and, for state
// changes, the X-CSRF-Token header; a 401 at any time shows the login form again.
// window.alarmlink.whenLoggedIn(start): runs start() once the user is logged in (any
// number of scripts may wait for it; each start runs once).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  // labels come from the catalogue (i18n.js, an ES module that runs after this script:
  // looked up when needed, and data-i18n lets its applyStatic() redo them)
  const t = (key, fallback) => (window.alarmlinkI18n ? window.alarmlinkI18n.t(key) : fallback);
  const ERRORS = { 401: "err_401", 423: "err_423", 429: "err_429", 403: "err_403" };
  let csrf = "";
  let started = false;
  let meAsked = false;
  const startFns = [];

  function runStarts() {
    for (const fn of startFns.splice(0)) fn();
  }

  function showLogin(show) {
    $("login").hidden = !show;
    $("app").hidden = show;
    if (show) $("login-username").focus();
  }

  function setUser(me) {
    csrf = me.csrf_token;
    $("user-name").textContent = me.display_name || me.username;
    $("user-role").dataset.i18n = `role_${me.role}`;
    $("user-role").textContent = t(`role_${me.role}`, me.role);
    $("user-role").title = me.role;
  }

  // One line: the cause in the officer's language (the server's detail, in English, as
  // the tooltip for whoever reads a screenshot of it).
  function loginError(status, detail, key) {
    const box = $("login-error");
    box.dataset.i18n = key || ERRORS[status] || "err_login";
    box.textContent = t(box.dataset.i18n, "登录失败");
    box.title = detail || "";
    box.hidden = false;
  }

  async function api(url, options = {}) {
    const opts = { credentials: "same-origin", ...options };
    const method = (opts.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") {
      opts.headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf,
                       ...(opts.headers || {}) };
    }
    const response = await fetch(url, opts);
    if (response.status === 401) showLogin(true);
    return response;
  }

  async function setupHint() {
    try {
      const setup = await (await fetch("/api/setup")).json();
      $("setup-hint").hidden = setup.users !== false;
    } catch (err) {
      // no hint: the login form still works
    }
  }

  async function login(event) {
    event.preventDefault();
    $("login-error").hidden = true;
    const body = { username: $("login-username").value.trim(), password: $("login-password").value };
    const totp = $("login-totp").value.trim();
    if (totp) body.totp = totp;
    try {
      const response = await fetch("/api/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) {
        const detail = typeof answer.detail === "string" ? answer.detail : "";
        const totp = detail.includes("TOTP");
        if (totp) $("totp-row").hidden = false;
        loginError(response.status, detail, totp ? "err_totp" : undefined);
        return;
      }
      $("login-password").value = "";
      setUser(answer);
      if (started) { location.reload(); return; }  // back after a 401: start afresh
      showLogin(false);
      started = true;
      runStarts();
    } catch (err) {
      loginError(0, String(err));
    }
  }

  async function logout() {
    try {
      await api("/api/logout", { method: "POST", body: "{}" });
    } finally {
      location.reload();
    }
  }

  async function whenLoggedIn(start) {
    if (started) { start(); return; }
    startFns.push(start);
    if (meAsked) return;
    meAsked = true;
    const response = await fetch("/api/me", { credentials: "same-origin" });
    if (response.ok) {
      setUser(await response.json());
      showLogin(false);
      started = true;
      runStarts();
    } else {
      showLogin(true);
      setupHint();
    }
  }

  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  window.alarmlink = { api, whenLoggedIn, showLogin };
})();
