// alarmlink console: the messages of the villages, checklists and inspection-plan pages
// and the hazard photos, added to the catalogue of i18n.js. Terms as in the glossary:
// 义务消防队, 联络点, 村警务助理, 警务室, 消防演练, 防火巡查, 消防监督检查.
import { addMessages } from "/static/i18n.js";

const ZH = {
  mg_villages: "村与义务消防队", mg_checklists: "检查表", mg_plans: "检查计划",
  v_list: "辖区村", v_office: "警务室", v_zones: "消防责任区", v_liaison: "联络点",
  v_assistants: "村警务助理", v_venues: "村内场所", v_team: "义务消防队", v_members: "队员",
  v_drills: "演练与巡查记录", v_add_member: "添加队员", v_edit: "修改", v_remove: "删除",
  v_save: "保存", v_cancel: "取消", v_record_drill: "记录演练或巡查", v_new_team: "组建义务消防队",
  v_team_name: "队伍名称", v_no_team: "尚未组建义务消防队", v_remove_confirm: "确定删除队员 {name}？",
  dk_drill: "消防演练", dk_patrol: "防火巡查",
  c_name: "名称", c_station_id: "派出所", c_member_name: "姓名", c_phone: "电话",
  c_role: "队内职务", c_contact: "联系人", c_held_at: "时间", c_drill_kind: "类型",
  c_participants: "参加人数", c_notes: "备注", c_text: "检查内容", c_rule: "依据",
  c_every_days: "检查周期（天）", c_last_at: "上次检查", c_due_at: "应检日期", c_plan_state: "状态",
  k_station: "派出所", k_category: "场所类别", cat_school: "学校", cat_hotel: "宾馆",
  cat_village: "村级小作坊", k_version: "第 {v} 版", k_starting: "初始检查表", k_own: "本所修订版",
  k_current: "当前使用：{name}（{who}，{at}）", k_used: "已用于 {n} 次检查",
  k_edit: "修订检查表", k_add_item: "添加检查项目", k_save: "保存为新版本", k_code: "项目编码",
  k_history: "历史版本", k_saved: "已保存为第 {v} 版；此前的检查记录仍使用原版本",
  p_overdue_n: "逾期未检查：{n} 处", p_overdue: "已逾期", p_ok: "未到期", p_go: "去检查",
  p_overdue_title: "逾期未检查的场所", p_all: "全部检查计划", p_set: "制定或修改检查计划",
  p_venue: "场所", p_every: "检查周期（天，30 为每月）", p_inspectors: "检查民警账号（以逗号分隔）",
  p_save: "保存计划", p_never: "从未检查",
  m_photos: "现场照片", m_add_photo: "添加隐患照片", m_photo_of: "照片 {id}（{who}，{at}）",
  m_close: "关闭",
};

const EN = {
  mg_villages: "Villages and teams", mg_checklists: "Checklists", mg_plans: "Inspection plans",
  v_list: "Villages", v_office: "Police office", v_zones: "Fire zones", v_liaison: "Liaison points",
  v_assistants: "Village police assistants", v_venues: "Venues in the village",
  v_team: "Volunteer fire team", v_members: "Members", v_drills: "Drills and patrols",
  v_add_member: "Add member", v_edit: "Edit", v_remove: "Remove", v_save: "Save",
  v_cancel: "Cancel", v_record_drill: "Record a drill or patrol", v_new_team: "Form the volunteer team",
  v_team_name: "Team name", v_no_team: "No volunteer fire team yet",
  v_remove_confirm: "Remove member {name}?", dk_drill: "drill", dk_patrol: "patrol",
  c_name: "Name", c_station_id: "Station", c_member_name: "Name", c_phone: "Phone",
  c_role: "Role", c_contact: "Contact", c_held_at: "When", c_drill_kind: "Kind",
  c_participants: "Participants", c_notes: "Notes", c_text: "Item", c_rule: "Rule",
  c_every_days: "Every (days)", c_last_at: "Last inspected", c_due_at: "Due", c_plan_state: "State",
  k_station: "Station", k_category: "Venue category", cat_school: "school", cat_hotel: "hotel",
  cat_village: "village workshop", k_version: "version {v}", k_starting: "starting list",
  k_own: "station's copy", k_current: "In use: {name} ({who}, {at})", k_used: "used by {n} inspections",
  k_edit: "Edit the checklist", k_add_item: "Add item", k_save: "Save as a new version",
  k_code: "Item code", k_history: "Earlier versions",
  k_saved: "Saved as version {v}; earlier inspections keep the version they used",
  p_overdue_n: "Overdue: {n}", p_overdue: "overdue", p_ok: "not due", p_go: "Inspect",
  p_overdue_title: "Venues overdue for inspection", p_all: "All inspection plans",
  p_set: "Set or change a plan", p_venue: "Venue", p_every: "Every (days; 30 = monthly)",
  p_inspectors: "Inspectors' accounts (comma-separated)", p_save: "Save plan", p_never: "never",
  m_photos: "Photos", m_add_photo: "Add a photo of the hazard", m_photo_of: "photo {id} ({who}, {at})",
  m_close: "Close",
};

addMessages(ZH, EN);
