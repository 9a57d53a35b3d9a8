// alarmlink console: the message catalogue. zh-CN by default, English on the switch.
// Every label on the page comes from here: elements with data-i18n="key" get the text,
// data-i18n-title / data-i18n-placeholder / data-i18n-aria the attribute. Times are
// shown in the station's zone (GET /api/console: timezone), never the browser's.
"use strict";

const ZH = {
  title: "报警值班台", queue: "警情队列", map: "地图", history: "历史警情", devices: "设备与故障",
  station: "派出所", all_stations: "全部派出所", logout: "退出登录",
  sound_off: "开启声音", sound_on: "声音已开", lang: "English",
  ws_up: "值班台已连接", ws_down: "值班台与中心断开",
  deaf: "中心收不到设备报警：与消息服务器断开。请立即检查中心服务器和网络，并电话联系各场所。",
  deaf_refused: "中心收不到设备报警：消息服务器拒绝订阅。请检查中心的 MQTT 账号权限。",
  no_open: "当前没有未处理警情。", select_hint: "选择左侧警情查看详情（↑↓ 选择，A 确认，Enter 打开）",
  st_new: "未确认", st_acknowledged: "已确认", st_dispatched: "已出警", st_resolved: "已处置",
  st_closed: "已关闭", new_since_ack: "确认后有新报警",
  cat_alarm: "报警", cat_trouble: "故障",
  k_fire: "火警", k_smoke: "烟感", k_heat: "温感", k_panic: "一键报警", k_medical: "医疗求助",
  k_intrusion: "入侵", k_tamper: "防拆", k_trouble: "故障", k_power: "电源故障", k_test: "测试",
  k_other: "其他", k_device_offline: "设备离线", d_clock: "时钟", d_skewed: "时钟偏差",
  acknowledge: "确认", dispatch: "出警", resolve: "处置完毕", outcome: "处置结果…",
  o_real_fire: "真实火警", o_real_emergency: "真实警情", o_false_alarm: "误报",
  o_malicious: "恶意报警", o_test: "测试", o_repaired: "已修复", o_device_fault: "设备故障",
  o_power: "电源问题", o_other: "其他",
  choose_outcome: "请先选择处置结果。", action_failed: "操作失败",
  timeline: "时间线", notes: "备注", add_note: "添加备注", note_placeholder: "输入备注…",
  venue: "场所", address: "地址", coords: "坐标", contacts: "联系人", keyholder: "钥匙持有人",
  contact: "联系人", procedure: "处置预案", no_procedure: "该场所没有登记预案。",
  age: "时长", opened: "报警时间", events: "事件",
  t_opened: "报警", t_event: "新事件", t_restored: "恢复", t_acknowledge: "确认",
  t_dispatch: "出警", t_resolve: "处置完毕", t_close: "关闭", t_note: "备注",
  t_procedure: "预案步骤", t_snapshot: "图像", t_step_done: "完成", t_step_undone: "取消",
  h_venue: "场所", h_kind: "类型", h_outcome: "结果", h_from: "开始日期", h_to: "结束日期",
  h_text: "备注全文", search: "查询", export_csv: "导出 CSV", h_any: "全部", h_none: "没有符合条件的警情。",
  h_id: "编号", h_opened: "报警时间", h_resolved: "处置时间", h_by: "处置人",
  d_device: "设备", d_state: "状态", d_heard: "最后心跳", d_outbox: "待发队列", d_signal: "信号",
  d_version: "软件版本", d_walk: "步测", d_online: "在线", d_offline: "离线", d_stopped: "已停止",
  d_never: "从未连接", d_walking: "步测中", troubles: "故障列表", no_troubles: "没有未处理的故障。",
  ago_s: "秒前", ago_min: "分钟前", ago_h: "小时前", never: "从未",
  map_no_coords: "没有坐标的场所", audit: "审计记录",
  zs_alarm: "报警", zs_restored: "已恢复", zs_trouble: "故障", zs_normal: "正常", d_clock_ok: "正常",
  zs_offline: "离线", zs_stopped: "已停止", zs_silent: "无心跳", zs_taken_over: "被顶替",
  zs_reconnecting: "频繁重连",
  ph_pre: "报警前", ph_alarm: "报警", ph_post: "报警后", ph_live: "实时",
  f_title: "摄像头图像", f_camera: "摄像头", f_none: "暂无图像。", f_live_btn: "实时查看",
  f_live_more: "延长实时查看", f_now: "立即抓拍", f_stop: "停止实时", f_live_until: "实时至",
  av_title: "现场音视频", av_open: "打开视频", av_reopen: "重新打开视频", av_close: "关闭视频",
  av_talk: "按住讲话", av_line: "开启通话", av_line_off: "结束通话", av_idle: "未连接",
  av_connecting: "正在连接…", av_live: "实时", av_lost: "视频中断", av_ended: "视频已关闭",
  av_talk_request: "现场请求通话", t_talk_request: "现场请求通话", av_answer: "接听通话",
  k_talk_request: "请求通话", zs_talk: "请求通话",
  t_av_open: "打开视频", t_av_close: "关闭视频", t_av_recording: "音视频录像已存证",
  rec_title: "音视频录像", rec_watched: "观看", rec_spoke: "通话", rec_silent: "未通话",
  rec_partial: "录像上传中", rec_rejected: "录像被拒收", rec_checking: "正在校验哈希…",
  rec_verified: "哈希已校验", rec_mismatch: "哈希不一致！", rec_failed: "无法读取录像",
  rec_verify_play: "校验并播放",
  a_allowed: "允许", a_denied: "拒绝", a_none: "暂无记录", a_cannot: "无法加载",
  hp_live: "实时", hp_broker: "中心与消息服务器断开", hp_database: "中心数据库故障",
  hp_ingest: "中心处理积压", hp_lost: "与中心断开", hp_unknown: "无法获取中心状态",
  hp_connecting: "连接中…", hp_unhealthy: "中心故障",
  login_sub: "值班台", l_user: "用户名", l_password: "密码", l_totp: "动态验证码", l_submit: "登录",
  l_setup: "尚未创建任何用户。请在服务器上创建第一个管理员：",
  err_401: "用户名或密码错误", err_423: "账号已锁定", err_429: "登录失败次数过多，请稍后再试",
  err_403: "请求被拒绝", err_login: "登录失败", err_totp: "请输入动态验证码",
  role_admin: "系统管理员", role_county_command: "县局指挥中心", role_station_leader: "派出所领导",
  role_duty_officer: "值班民警", role_installer: "安装人员", role_auditor: "审计员",
  role_viewer: "只读用户",
  w_venue: "{venue}（{station}）",
  w_text: "调试测试中：报警记为测试。原因：{reason}，至 {until}（设备 {device}，{by} 发起）",
  actor_escalation: "自动升级", actor_auto: "自动通知",
  t_escalation_stage: "升级通知", t_stage_skipped: "无人可通知，跳过", t_notified: "已通知",
  t_notify_failed: "通知失败", t_escalation_stopped: "升级停止",
  t_escalation_suppressed: "故障冷却期内，未升级", t_escalation_deferred: "静默时段，延后升级",
  t_notify_119: "通知119", t_notify_120: "通知120", t_notify_village: "通知村防火队",
  roster: "值班表", r_user: "值班人员账号", r_now: "正在值班", r_officer: "值班民警", r_leader: "带班领导", r_duty: "职责",
  r_starts: "开始", r_hours: "时长（小时）", r_add: "添加班次", r_week: "本周班次", r_remove: "删除",
  r_nobody: "当前无人值班：升级通知将跳过值班民警。", r_no_shifts: "无班次", r_until: "至 {at}",
  r_bad_time: "请填写开始时间。",
  e_title: "升级通知", e_none: "未启动升级", e_stage: "当前阶段 {stage}，下次升级 {next}",
  e_stopped: "升级已停止：{reason}", e_r_ack: "{user} 已确认", e_r_done: "各阶段均已通知",
  e_r_cooldown: "故障冷却期内", e_r_resolved: "已处置", e_r_none: "无升级策略",
  e_countdown: "距 119/120 通知目标还剩 {s} 秒", e_overdue: "已超过 119/120 通知目标 {s} 秒",
  e_notify_119: "通知119", e_notify_120: "通知120", e_notify_village: "通知村防火队",
  e_svc_119: "119", e_svc_120: "120", e_svc_village: "村防火队",
  e_notified: "已通知{service}（剩余 {s} 秒）", e_nobody: "尚未通知任何人",
  e_ch_sms: "短信", e_ch_call: "电话", e_ch_webhook: "接口",
  e_st_queued: "排队中", e_st_sending: "发送中", e_st_sent: "已发送", e_st_delivered: "已送达",
  e_st_failed: "失败", e_st_cancelled: "已取消",
};

const EN = {
  title: "Alarm duty console", queue: "Queue", map: "Map", history: "History",
  devices: "Devices and troubles",
  station: "Station", all_stations: "All stations", logout: "Log out",
  sound_off: "Enable sound", sound_on: "Sound on", lang: "中文",
  ws_up: "console connected", ws_down: "console lost central",
  deaf: "Central cannot hear devices: it lost the MQTT broker. Check central's server and network now, and phone the venues.",
  deaf_refused: "Central cannot hear devices: the broker refused its subscriptions. Check central's MQTT account.",
  no_open: "No open incidents.", select_hint: "Select an incident to see it (↑↓ move, A acknowledge, Enter open)",
  st_new: "unacknowledged", st_acknowledged: "acknowledged", st_dispatched: "dispatched",
  st_resolved: "resolved", st_closed: "closed", new_since_ack: "new event since acknowledgement",
  cat_alarm: "alarm", cat_trouble: "trouble",
  k_fire: "fire", k_smoke: "smoke", k_heat: "heat", k_panic: "panic", k_medical: "medical",
  k_intrusion: "intrusion", k_tamper: "tamper", k_trouble: "trouble", k_power: "power",
  k_test: "test", k_other: "other", k_device_offline: "device offline", d_clock: "Clock",
  d_skewed: "SKEWED",
  acknowledge: "Acknowledge", dispatch: "Dispatch", resolve: "Resolve", outcome: "Outcome…",
  o_real_fire: "Real fire", o_real_emergency: "Real emergency", o_false_alarm: "False alarm",
  o_malicious: "Malicious", o_test: "Test", o_repaired: "Repaired", o_device_fault: "Device fault",
  o_power: "Power", o_other: "Other",
  choose_outcome: "Choose the outcome before resolving.", action_failed: "Action failed",
  timeline: "Timeline", notes: "Notes", add_note: "Add note", note_placeholder: "Type a note…",
  venue: "Venue", address: "Address", coords: "Coordinates", contacts: "Contacts",
  keyholder: "keyholder", contact: "contact", procedure: "Response procedure",
  no_procedure: "No procedure registered for this venue.",
  age: "Age", opened: "Opened", events: "events",
  t_opened: "alarm", t_event: "new event", t_restored: "restored", t_acknowledge: "acknowledged",
  t_dispatch: "dispatched", t_resolve: "resolved", t_close: "closed", t_note: "note",
  t_procedure: "procedure step", t_snapshot: "snapshot", t_step_done: "done",
  t_step_undone: "undone",
  h_venue: "Venue", h_kind: "Kind", h_outcome: "Outcome", h_from: "From", h_to: "To",
  h_text: "Notes text", search: "Search", export_csv: "Export CSV", h_any: "any",
  h_none: "No incidents match.", h_id: "No.", h_opened: "Opened", h_resolved: "Resolved",
  h_by: "By",
  d_device: "Device", d_state: "State", d_heard: "Last heartbeat", d_outbox: "Outbox",
  d_signal: "Signal", d_version: "Software", d_walk: "Walk test", d_online: "online",
  d_offline: "offline", d_stopped: "stopped", d_never: "never connected", d_walking: "walk test",
  troubles: "Troubles", no_troubles: "No open troubles.",
  ago_s: "s ago", ago_min: "min ago", ago_h: "h ago", never: "never",
  map_no_coords: "Venues without coordinates", audit: "Audit",
  zs_alarm: "alarm", zs_restored: "restored", zs_trouble: "trouble", zs_normal: "normal",
  zs_offline: "offline", zs_stopped: "stopped", zs_silent: "silent", zs_taken_over: "taken over",
  zs_reconnecting: "reconnecting",
  d_clock_ok: "ok",
  ph_pre: "before", ph_alarm: "ALARM", ph_post: "after", ph_live: "live",
  f_title: "Camera snapshots", f_camera: "camera", f_none: "No pictures yet.",
  f_live_btn: "Live view", f_live_more: "Extend live view", f_now: "Snapshot now",
  f_stop: "Stop live", f_live_until: "LIVE until",
  av_title: "Live audio and video", av_open: "Open video", av_reopen: "Reopen video",
  av_close: "Close video", av_talk: "Hold to talk", av_line: "Open line",
  av_line_off: "End open line", av_idle: "not connected", av_connecting: "connecting…",
  av_live: "LIVE", av_lost: "video lost", av_ended: "video closed",
  av_talk_request: "venue requests talk", t_talk_request: "venue requests talk",
  av_answer: "Answer (video and open line)", k_talk_request: "talk request",
  zs_talk: "asks to talk",
  t_av_open: "live video opened", t_av_close: "live video closed",
  t_av_recording: "session recording stored", rec_title: "Session recordings",
  rec_watched: "watched", rec_spoke: "spoke", rec_silent: "did not speak",
  rec_partial: "upload in progress", rec_rejected: "recording refused",
  rec_checking: "checking the hash…", rec_verified: "hash verified",
  rec_mismatch: "HASH MISMATCH", rec_failed: "could not read the recording",
  rec_verify_play: "Verify and play",
  a_allowed: "allowed", a_denied: "denied", a_none: "nothing recorded", a_cannot: "cannot load",
  hp_live: "live", hp_broker: "central lost the broker", hp_database: "central database failure",
  hp_ingest: "central ingest lagging", hp_lost: "console lost central",
  hp_unknown: "central health unknown", hp_connecting: "connecting…",
  hp_unhealthy: "central unhealthy",
  login_sub: "duty console", l_user: "User name", l_password: "Password",
  l_totp: "Authenticator code", l_submit: "Log in",
  l_setup: "No users yet. Create the first admin on the server:",
  err_401: "Wrong user name or password", err_423: "Account locked",
  err_429: "Too many failed logins from this address; try again later", err_403: "Refused",
  err_login: "Login failed", err_totp: "Enter the authenticator code",
  role_admin: "administrator", role_county_command: "county command centre",
  role_station_leader: "station leader", role_duty_officer: "duty officer",
  role_installer: "installer", role_auditor: "auditor", role_viewer: "viewer",
  w_venue: "{venue} ({station})",
  w_text: "Walk test running: alarms are recorded as tests. Reason: {reason}, until {until} (device {device}, started by {by})",
  actor_escalation: "escalation", actor_auto: "automatic",
  t_escalation_stage: "escalation stage", t_stage_skipped: "nobody reachable, skipped",
  t_notified: "notified", t_notify_failed: "notification failed",
  t_escalation_stopped: "escalation stopped", t_escalation_suppressed: "trouble cooldown, not escalated",
  t_escalation_deferred: "quiet hours, escalation deferred", t_notify_119: "119 notified",
  t_notify_120: "120 notified", t_notify_village: "village team notified",
  roster: "Duty roster", r_user: "Officer account", r_now: "On duty now", r_officer: "Duty officer", r_leader: "Leader on call",
  r_duty: "Duty", r_starts: "Starts", r_hours: "Hours", r_add: "Add shift", r_week: "Shifts this week",
  r_remove: "Remove", r_nobody: "Nobody on duty: escalation skips the duty officers.",
  r_no_shifts: "no shifts", r_until: "until {at}", r_bad_time: "Enter the start time.",
  e_title: "Escalation", e_none: "no escalation", e_stage: "stage {stage}, next at {next}",
  e_stopped: "escalation stopped: {reason}", e_r_ack: "acknowledged by {user}",
  e_r_done: "every stage notified", e_r_cooldown: "trouble cooldown", e_r_resolved: "resolved",
  e_r_none: "no policy", e_countdown: "{s} s left to the 119/120 target",
  e_overdue: "{s} s past the 119/120 target", e_notify_119: "Notify 119",
  e_notify_120: "Notify 120", e_notify_village: "Notify village team",
  e_svc_119: "119", e_svc_120: "120", e_svc_village: "village team",
  e_notified: "{service} notified ({s} s left)", e_nobody: "nobody notified yet",
  e_ch_sms: "SMS", e_ch_call: "call", e_ch_webhook: "webhook",
  e_st_queued: "queued", e_st_sending: "sending", e_st_sent: "sent", e_st_delivered: "delivered",
  e_st_failed: "failed", e_st_cancelled: "cancelled",
};

const CATALOGUES = { "zh-CN": ZH, en: EN };
const KEY_LANG = "alarmlink.lang";
let lang = localStorage.getItem(KEY_LANG) === "en" ? "en" : "zh-CN";
let zone = "Asia/Shanghai";
const listeners = [];

export const t = (key) => CATALOGUES[lang][key] ?? ZH[key] ?? key;
// A message with {name} placeholders filled (values inserted as text).
export const tf = (key, vars) => t(key).replace(/\{(\w+)\}/g, (m, name) => String(vars[name] ?? m));
export const kind = (k) => t(`k_${k}`) === `k_${k}` ? k : t(`k_${k}`);
export const currentLang = () => lang;
// More messages from another module (mgmt_i18n.js: the management pages).
export function addMessages(zh, en) { Object.assign(ZH, zh); Object.assign(EN, en); }
export function setZone(name) { zone = name || zone; }
export function onLangChange(fn) { listeners.push(fn); }
// For the classic scripts (session.js) that run before the modules: they look it up late.
window.alarmlinkI18n = { t };

export function setLang(next) {
  lang = next === "en" ? "en" : "zh-CN";
  localStorage.setItem(KEY_LANG, lang);
  applyStatic();
  for (const fn of listeners) fn();
}

export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const [attr, data] of [["title", "i18nTitle"], ["placeholder", "i18nPlaceholder"],
    ["aria-label", "i18nAria"]]) {
    for (const node of root.querySelectorAll(`[data-${data.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())}]`)) {
      node.setAttribute(attr, t(node.dataset[data]));
    }
  }
}

// A time in the station's zone: HH:MM:SS today, else YYYY-MM-DD HH:MM:SS.
export function when(iso) {
  if (!iso) return "";
  const opts = { timeZone: zone, hour12: false };
  const d = new Date(iso);
  const day = (x) => x.toLocaleDateString("sv-SE", opts);
  const time = d.toLocaleTimeString("sv-SE", opts);
  return day(d) === day(new Date()) ? time : `${day(d)} ${time}`;
}

// The station-local day of an ISO time, YYYY-MM-DD.
export const localDay = (date) => date.toLocaleDateString("sv-SE", { timeZone: zone });

export function age(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const mm = String(Math.floor(s / 60) % 60).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function ago(seconds) {
  if (seconds === null || seconds === undefined) return t("never");
  if (seconds < 120) return `${Math.round(seconds)} ${t("ago_s")}`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} ${t("ago_min")}`;
  return `${Math.round(seconds / 3600)} ${t("ago_h")}`;
}

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;   // text only, never HTML
  return node;
}
