// alarmlink console: login, logout and authenticated requests. Loaded before console.js.
// window.alarmlink.api(url, options): fetch with the session cookie and, for state
// changes, the X-CSRF-Token header; a 401 at any time shows the login form again.
// window.alarmlink.whenLoggedIn(start): runs start() once the user is logged in (any
// number of scripts may wait for it; each start runs once).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const ROLE_NAMES = {
    admin: "系统管理员", county_command: "县局指挥中心", station_leader: "派出所领导",
    duty_officer: "值班民警", installer: "安装人员", auditor: "审计员", viewer: "只读用户",
  };
  // error texts: Chinese first, the English underneath
  const MESSAGES = {
    401: ["用户名或密码错误", "wrong user name or password"],
    423: ["账号已锁定", "account locked"],
    429: ["登录失败次数过多，请稍后再试", "too many failed logins from this address"],
    403: ["请求被拒绝", "refused"],
  };
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
    $("user-role").textContent = ROLE_NAMES[me.role] || me.role;
    $("user-role").title = me.role;
  }

  function loginError(status, detail) {
    const [zh, en] = MESSAGES[status] || ["登录失败", "login failed"];
    const box = $("login-error");
    box.replaceChildren();
    const main = document.createElement("strong");
    main.textContent = zh;
    const sub = document.createElement("span");
    sub.className = "en";
    sub.textContent = detail || en;
    box.append(main, document.createElement("br"), sub);
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
        if (detail.includes("TOTP")) $("totp-row").hidden = false;
        loginError(response.status, detail);
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
