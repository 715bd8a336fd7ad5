// callqa review page. Plain JavaScript, no dependencies: the page signs in
// with a bearer token (kept in sessionStorage, gone when the tab closes),
// lists flagged conversations most severe first, shows the transcript with
// the evidence highlighted and plays the recording from the flagged moment
// (through a short-lived signed link), and records decisions. All text
// from the server is inserted with textContent, never as HTML.
"use strict";

const T = {
  en: {
    title: "Call QA review", queue: "Flagged conversations", disputes: "Disputes", report: "Report",
    calibration: "Calibration", signout: "Sign out", token: "Access token", signin: "Sign in",
    tokenhint: "Ask an administrator for a token (callqa users add).", status: "Status",
    pending: "Pending", all: "All", disputed: "Disputed", confirmed: "Confirmed", dismissed: "Dismissed",
    refresh: "Refresh", pick: "Pick a conversation on the left.", period: "Period", team: "Team",
    load: "Load", download: "Download HTML", badtoken: "That token was not accepted.",
    play: "Play from", confirm: "Confirm", dismiss: "Dismiss", comment: "Comment (required to dismiss)",
    dispute: "Dispute (申诉)", reason: "Why is this flag wrong?", uphold: "Uphold dispute (dismiss flag)",
    reject: "Reject dispute (keep flag)", decision: "Supervisor's comment", score: "Score",
    agent: "Agent", kind: "Kind", started: "Started", noflags: "No conversations.", saved: "Saved",
    noaudio: "No recording for this conversation.", transcript: "Transcript", evidence: "Evidence",
    contacts: "Contacts", qa: "QA score", violations: "Violations", composite: "Composite",
    grade: "Grade", bonus: "Bonus", pass: "Pass rate", rule: "Rule", raised: "Raised",
    precision: "Precision", decided: "Decided", flag: "Flag", opened: "Opened", by: "By",
    coaching: "Coaching", agreement: "Agreement with reviewers", excluded: "dismissed flags left out",
    job: "Conversation", outcome: "Status", csat: "CSAT", fcr: "FCR", reasonh: "Reason",
    search: "Search", searchph: "Words in the transcript", severity: "Severity", channel: "Channel",
    any: "Any", find: "Find", prev: "Previous", next: "Next", found: "contact(s) found", showing: "showing",
    sev_critical: "Critical", sev_major: "Major", sev_minor: "Minor", sev_info: "Info",
    spk_agent: "Agent", spk_customer: "Customer", kind_call: "Call", kind_chat: "Chat",
    dst_open: "open", dst_upheld: "upheld (flag dismissed)", dst_rejected: "rejected (flag kept)",
    nocost: "This flag costs the agent no points.", pending_n: "pending",
    calline: (d, r, c, p) => `Reviewers decided ${d} of the ${r} flags raised and confirmed ${c} of them: the machine agreed with reviewers on ${p} of decided flags.`,
    calnone: (r) => `${r} flags raised; none decided by a reviewer yet.`,
    tasks: "My tasks", due: "Due", reasonp: "Why sampled", done: "Done", markdone: "Mark done", plan: "Plan",
    overdue: "overdue", notasks: "No tasks.",
    progress: (p) => `${p.plan} ${p.period}: ${p.done} of ${p.total} done` + (p.overdue ? `, ${p.overdue} overdue` : "") + (p.unassigned ? `, ${p.unassigned} unassigned` : ""),
    session: "Calibration session", sessionid: "Session id", broken: "Broken", notbroken: "Not broken",
    sesopen: (n, m) => `${n}: open — judge each contact blind; you have given ${m} verdicts.`,
    sesclosed: (n) => `${n}: closed — agreement per rule, and the contacts to discuss.`,
    between: "Between reviewers", withm: "With the machine", kappa: "κ", disagree: "To discuss",
    machine: "machine",
    sessions: "Calibration sessions", created: "Created", sesname: "Name", sesjobs: "Conversations",
    sesjobsph: "Job ids, separated by spaces or commas", fromsearch: "Use search results", create: "Create session",
    nosessions: "No sessions yet.", ses_open: "open", ses_closed: "closed",
    queuepage: (a, b, n) => `${a}–${b} of ${n}`,
    dashboard: "Dashboard", byflag: "Violations by flag", trend: "Weekly trend per agent", week: "Week",
    topviol: "Top violation", drillhint: "Click a bar to see the conversations behind it.", noviol: "No violations in this period.",
    dashmeta: (p, c, v) => `${p} · ${c} contacts · ${v} violations`,
    rs_critical: "critical flag", rs_disputed: "disputed", rs_unscoreable: "not scoreable", rs_random: "random", rs_agent_minimum: "agent minimum",
  },
  zh: {
    title: "智能质检复核", queue: "告警会话", disputes: "申诉", report: "考核报告", calibration: "规则校准",
    signout: "退出", token: "访问令牌", signin: "登录", tokenhint: "请向管理员索取令牌（callqa users add）。",
    status: "状态", pending: "待复核", all: "全部", disputed: "申诉中", confirmed: "已确认", dismissed: "已驳回",
    refresh: "刷新", pick: "请在左侧选择一个会话。", period: "考核周期", team: "班组", load: "查询",
    download: "下载 HTML", badtoken: "令牌无效。", play: "播放自", confirm: "确认违规", dismiss: "驳回告警",
    comment: "备注（驳回时必填）", dispute: "申诉", reason: "请说明告警错误的原因", uphold: "申诉成立（驳回告警）",
    reject: "申诉不成立（维持告警）", decision: "主管意见", score: "得分", agent: "坐席", kind: "类型",
    started: "开始时间", noflags: "没有会话。", saved: "已保存", noaudio: "该会话没有录音。",
    transcript: "转写文本", evidence: "证据", contacts: "通数", qa: "质检均分", violations: "违规数",
    composite: "综合得分", grade: "等级", bonus: "绩效系数", pass: "质检合格率", rule: "规则", raised: "告警数",
    precision: "准确率", decided: "已复核", flag: "告警", opened: "提出时间", by: "提出人", coaching: "辅导建议",
    agreement: "与人工复核一致率", excluded: "条被驳回的告警已剔除", job: "会话", outcome: "状态",
    csat: "满意度", fcr: "一次解决率", reasonh: "理由",
    search: "会话检索", searchph: "转写文本中的词句", severity: "严重程度", channel: "渠道",
    any: "全部", find: "检索", prev: "上一页", next: "下一页", found: "个会话", showing: "当前",
    sev_critical: "致命", sev_major: "严重", sev_minor: "一般", sev_info: "提示",
    spk_agent: "坐席", spk_customer: "客户", kind_call: "通话", kind_chat: "在线会话",
    dst_open: "待裁决", dst_upheld: "申诉成立（告警已驳回）", dst_rejected: "申诉不成立（维持告警）",
    nocost: "该告警不扣坐席的分。", pending_n: "条待复核",
    calline: (d, r, c, p) => `共 ${r} 条告警，人工已复核 ${d} 条，其中确认 ${c} 条：机器判定与人工复核一致率 ${p}。`,
    calnone: (r) => `共 ${r} 条告警，尚无人工复核。`,
    tasks: "我的复核任务", due: "截止时间", reasonp: "抽检原因", done: "已完成", markdone: "标记完成", plan: "抽检计划",
    overdue: "已逾期", notasks: "没有任务。",
    progress: (p) => `${p.plan} ${p.period}：共 ${p.total} 条，已完成 ${p.done} 条` + (p.overdue ? `，逾期 ${p.overdue} 条` : "") + (p.unassigned ? `，未分配 ${p.unassigned} 条` : ""),
    session: "校准会话", sessionid: "会话编号", broken: "违规", notbroken: "不违规",
    sesopen: (n, m) => `${n}：进行中——请独立盲评；您已提交 ${m} 条判定。`,
    sesclosed: (n) => `${n}：已结束——各规则的一致性与待讨论的会话。`,
    between: "复核员之间", withm: "与机器判定", kappa: "κ", disagree: "待讨论",
    machine: "机器",
    sessions: "校准会话列表", created: "创建时间", sesname: "名称", sesjobs: "会话",
    sesjobsph: "会话编号，用空格或逗号分隔", fromsearch: "使用检索结果", create: "创建校准会话",
    nosessions: "暂无校准会话。", ses_open: "进行中", ses_closed: "已结束",
    queuepage: (a, b, n) => `第 ${a}–${b} 条，共 ${n} 条`,
    dashboard: "数据看板", byflag: "各类告警违规数", trend: "坐席每周趋势", week: "周",
    topviol: "主要违规", drillhint: "点击柱条查看对应的会话。", noviol: "本周期没有违规。",
    dashmeta: (p, c, v) => `${p} · ${c} 通 · 违规 ${v} 次`,
    rs_critical: "致命告警", rs_disputed: "申诉", rs_unscoreable: "无法评分", rs_random: "随机抽取", rs_agent_minimum: "坐席保底",
  },
};

const state = { token: null, me: null, lang: "en", selected: null, detail: null, tab: "queue", labels: null, searchOffset: 0, searchJobs: [], queueOffset: 0, dash: null };
const $ = (id) => document.getElementById(id);
const t = (k) => (T[state.lang] && T[state.lang][k]) || T.en[k] || k;

// Names of ids for people: flags come from the server (the report's
// wording); severities, speakers, kinds and dispute states from T.
const flagName = (id) => (state.labels && state.labels.flags[state.lang] && state.labels.flags[state.lang][id]) || id;
const sevName = (s) => t(`sev_${s}`);
const spkName = (s) => (s ? t(`spk_${s}`) : "–");
const kindName = (k) => t(`kind_${k}`);
const disputeName = (s) => t(`dst_${s}`);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function clock(s) {
  s = Math.max(0, s || 0);
  const m = Math.floor(s / 60);
  const r = (s - m * 60).toFixed(1).padStart(4, "0");
  return `${String(m).padStart(2, "0")}:${r}`;
}

function toast(msg) {
  const e = $("toast");
  e.textContent = msg;
  e.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => e.classList.remove("show"), 2500);
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, opts = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method: opts.method || "GET",
    headers,
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
  });
  if (res.status === 401) { signOut(); throw new ApiError(401, t("badtoken")); }
  if (!res.ok) {
    let msg = res.statusText;
    try { msg = (await res.json()).error || msg; } catch (_) { /* not JSON */ }
    throw new ApiError(res.status, msg);
  }
  if (opts.raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

function translate() {
  document.documentElement.lang = state.lang;
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  for (const e of document.querySelectorAll("[data-tp]")) e.placeholder = t(e.dataset.tp);
  fillFlagFilter();
}

function fillFlagFilter() {
  const sel = $("search-flag");
  if (!state.labels) return;
  const keep = sel.value;
  sel.replaceChildren(el("option", { value: "", "data-t": "any", text: t("any") }));
  for (const id of Object.keys(state.labels.flags.en)) sel.append(el("option", { value: id, text: flagName(id) }));
  sel.value = keep;
}

// Re-draws whatever is on screen in the current language.
function rerender() {
  translate();
  if (!state.me) return;
  const fail = (e) => toast(e.message);
  loadQueue().catch(fail);
  if (state.selected) openResult(state.selected).catch(fail);
  if (state.tab === "disputes") loadDisputes().catch(fail);
  if (state.tab === "tasks") loadTasks().catch(fail);
  if (state.tab === "report") loadReport();
  if (state.tab === "dashboard") loadDashboard();
  if (state.tab === "calibration") { loadCalibration(); loadSessions(); if ($("ses-meta").textContent) loadSession(); }
  if (state.tab === "search" && $("search-total").textContent) runSearch(state.searchOffset).catch(fail);
}

// ---- sign-in --------------------------------------------------------------

async function signIn(token) {
  state.token = token;
  try {
    state.me = await api("/api/me");
  } catch (e) {
    state.token = null;
    sessionStorage.removeItem("callqa.token");
    $("login-error").textContent = e.message;
    return;
  }
  sessionStorage.setItem("callqa.token", token);
  $("login").hidden = true;
  $("app").hidden = false;
  $("tabs").hidden = false;
  $("logout").hidden = false;
  $("whoami").textContent = `${state.me.name} · ${state.me.role}`;
  $("tab-calibration").hidden = state.me.role === "agent";
  $("tab-tasks").hidden = state.me.role === "agent";
  $("ses-new").hidden = !["supervisor", "admin"].includes(state.me.role);
  try { state.labels = await api("/api/labels"); } catch (e) { toast(e.message); }
  translate();
  // Reports open on the month of the latest contact, not the current
  // month (which is often empty: contacts are scored in batches).
  let month = new Date().toISOString().slice(0, 7);
  try {
    const latest = await api("/api/search?limit=1");
    if (latest.contacts.length && latest.contacts[0].started_at) month = latest.contacts[0].started_at.slice(0, 7);
  } catch (_) { /* keep the current month */ }
  for (const id of ["report-period", "cal-period", "dash-period"]) if (!$(id).value) $(id).value = month;
  if (state.me.role === "agent") $("status-filter").value = "all";
  await loadQueue();
}

function signOut() {
  state.token = null;
  state.me = null;
  state.queueOffset = 0;
  sessionStorage.removeItem("callqa.token");
  $("app").hidden = true;
  $("tabs").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("whoami").textContent = "";
}

// ---- queue ------------------------------------------------------------------

const QUEUE_PAGE = 200;

// One page of the queue from `offset` (the current page by default); the
// total comes in the X-Total-Count header.
async function loadQueue(offset = state.queueOffset) {
  const status = $("status-filter").value;
  const res = await api(`/api/flags?status=${encodeURIComponent(status)}&limit=${QUEUE_PAGE}&offset=${offset}`, { raw: true });
  const total = Number(res.headers.get("X-Total-Count") || 0);
  const items = await res.json();
  // A decision can empty the last page: go back to the page that is left.
  if (!items.length && offset > 0 && total) return loadQueue(Math.floor((total - 1) / QUEUE_PAGE) * QUEUE_PAGE);
  state.queueOffset = offset;
  $("queue-page").textContent = total ? t("queuepage")(offset + 1, offset + items.length, total) : "";
  $("queue-prev").disabled = offset === 0;
  $("queue-next").disabled = offset + items.length >= total;
  const ul = $("queue");
  ul.replaceChildren();
  if (!items.length) ul.append(el("li", { class: "empty", text: t("noflags") }));
  for (const it of items) {
    const counts = {};
    for (const f of it.flags) counts[f.flag] = (counts[f.flag] || 0) + 1;
    const li = el("li", {
      class: `sev-${it.max_severity}` + (it.job_id === state.selected ? " selected" : ""),
      "data-job": it.job_id,
      onclick: () => openResult(it.job_id),
    },
      el("div", {}, el("span", { class: `badge ${it.max_severity}`, text: sevName(it.max_severity) }), " ", el("b", { text: it.job_id })),
      el("div", { class: "meta", text: `${it.agent_id}${it.team ? " · " + it.team : ""} · ${kindName(it.kind)} · ${t("score")} ${it.score}` }),
      el("div", { class: "meta", text: Object.entries(counts).map(([k, n]) => (n > 1 ? `${flagName(k)} ×${n}` : flagName(k))).join(", ") }),
    );
    ul.append(li);
  }
}

// ---- one conversation ----------------------------------------------------------

function highlighted(text, ranges) {
  // Offsets are in characters (code points), as Rust counts them.
  const chars = Array.from(text);
  const out = [];
  let pos = 0;
  const sorted = ranges.filter((r) => r && r[1] > r[0]).sort((a, b) => a[0] - b[0]);
  for (const [a, b] of sorted) {
    if (a < pos) continue;
    if (a > pos) out.push(document.createTextNode(chars.slice(pos, a).join("")));
    out.push(el("mark", { text: chars.slice(a, b).join("") }));
    pos = Math.min(b, chars.length);
  }
  if (pos < chars.length) out.push(document.createTextNode(chars.slice(pos).join("")));
  return out;
}

function playAt(seconds) {
  const a = $("player");
  if (!a) return;
  const go = () => {
    a.currentTime = seconds;
    const p = a.play();
    if (p && p.catch) p.catch((e) => toast(e.message));
  };
  if (a.readyState >= 1) go();
  else a.addEventListener("loadedmetadata", go, { once: true });
}

async function openResult(job) {
  state.selected = job;
  for (const li of document.querySelectorAll("#queue li")) li.classList.toggle("selected", li.dataset.job === job);
  const d = await api(`/api/results/${encodeURIComponent(job)}`);
  state.detail = d;
  const r = d.result;
  const pane = $("detail");
  pane.replaceChildren();
  pane.dataset.job = job;
  pane.append(
    el("h2", { text: `${r.job_id}` }),
    el("div", { class: "hint", text: `${t("agent")} ${r.agent_id}${r.agent.name ? " " + r.agent.name : ""} · ${kindName(r.kind)} · ${r.language} · ${t("started")} ${r.started_at || "-"} · ${t("score")} ${r.score}${r.passed ? " ✓" : " ✗"}` }),
  );
  if (d.has_audio) {
    const audio = el("audio", { id: "player", controls: true, preload: "metadata" });
    pane.append(audio);
    try {
      const link = await api(`/api/results/${encodeURIComponent(job)}/media-link`);
      audio.src = link.url;
    } catch (e) {
      pane.append(el("p", { class: "error", text: e.message }));
    }
  } else if (r.kind === "call") {
    pane.append(el("p", { class: "hint", text: t("noaudio") }));
  }
  const ul = el("ul", { class: "flags" });
  r.flags.forEach((f, idx) => ul.append(flagItem(r, d, f, idx)));
  pane.append(ul);
  pane.append(transcript(r));
}

function statusBadges(st) {
  const out = [];
  if (st && st.review) out.push(el("span", { class: `badge ${st.review.decision}`, text: t(st.review.decision) }));
  else out.push(el("span", { class: "badge", text: t("pending") }));
  if (st && st.dispute) out.push(" ", el("span", { class: `badge ${st.dispute.status}`, text: `${t("dispute")}: ${disputeName(st.dispute.status)}` }));
  return out;
}

function flagItem(r, d, f, idx) {
  const st = d.flags.find((s) => s.idx === idx);
  const li = el("li", { class: "flag", "data-idx": idx },
    el("div", {},
      el("span", { class: `badge ${f.severity}`, text: sevName(f.severity) }), " ",
      el("b", { class: "flag-name", text: flagName(f.id) }), ` (${f.rule}) `,
      el("span", { class: "flag-status", "data-idx": idx }, ...statusBadges(st)),
    ),
    el("div", { text: f.message }),
  );
  // Every piece of evidence, each playable.
  f.evidence.forEach((ev, k) => {
    const line = el("div", { class: "hint evidence", "data-idx": idx, "data-ev": k },
      `${t("evidence")} ${k + 1}/${f.evidence.length}: ${spkName(ev.speaker)} ${clock(ev.start)}–${clock(ev.end)} “`,
      ...highlighted(ev.text, ev.highlight ? [ev.highlight] : []), "” ");
    if (d.has_audio) {
      line.append(el("button", { type: "button", class: "play", "data-idx": idx, "data-ev": k, "data-start": ev.start, onclick: () => playAt(ev.start), text: `▶ ${t("play")} ${clock(ev.start)}` }));
    }
    li.append(line);
  });
  const coach = (r.coaching || []).filter((c) => c.rule === f.rule && c.flag === f.id);
  for (const c of coach) li.append(el("div", { class: "coach-text", "data-idx": idx }, el("b", { text: `${t("coaching")}: ` }), c.text));
  if (st && !st.costs_points) li.append(el("div", { class: "hint nocost", text: t("nocost") }));
  const role = state.me.role;
  const reviewer = role === "reviewer" || role === "supervisor" || role === "admin";
  const supervisor = role === "supervisor" || role === "admin";
  if (reviewer) {
    const c = el("textarea", { class: "comment", "data-idx": idx, placeholder: t("comment"), maxlength: 2000 });
    li.append(c, el("div", { class: "actions" },
      el("button", { type: "button", class: "confirm", "data-idx": idx, text: t("confirm"), onclick: () => decide(r.job_id, idx, "confirmed", c.value) }),
      el("button", { type: "button", class: "dismiss", "data-idx": idx, text: t("dismiss"), onclick: () => decide(r.job_id, idx, "dismissed", c.value) }),
    ));
  }
  if (role === "agent" && st && st.costs_points && !st.dispute && !(st.review && st.review.decision === "dismissed")) {
    const c = el("textarea", { class: "reason", "data-idx": idx, placeholder: t("reason"), maxlength: 2000 });
    li.append(c, el("div", { class: "actions" },
      el("button", { type: "button", class: "dispute", "data-idx": idx, text: t("dispute"), onclick: () => dispute(r.job_id, idx, c.value) }),
    ));
  }
  if (supervisor && st && st.dispute && st.dispute.status === "open") {
    const c = el("textarea", { class: "decision", "data-idx": idx, placeholder: t("decision"), maxlength: 2000 });
    li.append(el("div", { class: "hint", text: `${t("dispute")} · ${st.dispute.opened_by}: ${st.dispute.reason}` }), c, el("div", { class: "actions" },
      el("button", { type: "button", class: "uphold", "data-idx": idx, text: t("uphold"), onclick: () => decideDispute(r.job_id, idx, "upheld", c.value) }),
      el("button", { type: "button", class: "reject", "data-idx": idx, text: t("reject"), onclick: () => decideDispute(r.job_id, idx, "rejected", c.value) }),
    ));
  }
  const hist = d.log.filter((l) => l.idx === idx);
  if (hist.length) {
    li.append(el("div", { class: "history" }, ...hist.map((l) => el("div", { text: `${l.at} · ${l.actor} · ${l.action}${l.comment ? ": " + l.comment : ""}` }))));
  }
  return li;
}

function transcript(r) {
  const box = el("div", { class: "transcript" }, el("h3", { text: t("transcript") }));
  const marks = new Map();
  for (const f of r.flags) for (const ev of f.evidence) {
    if (ev.turn === undefined || ev.turn === null) continue;
    if (!marks.has(ev.turn)) marks.set(ev.turn, []);
    if (ev.highlight) marks.get(ev.turn).push(ev.highlight);
  }
  r.turns.forEach((turn, i) => {
    const flagged = marks.has(i);
    box.append(el("div", { class: "turn" + (flagged ? " flagged" : ""), "data-turn": i },
      el("span", { class: "t", text: clock(turn.start), onclick: () => playAt(turn.start) }),
      el("span", { class: `who-${turn.speaker}`, text: spkName(turn.speaker) }),
      el("span", {}, ...highlighted(turn.text, marks.get(i) || [])),
    ));
  });
  return box;
}

async function decide(job, idx, decision, comment) {
  try {
    await api(`/api/results/${encodeURIComponent(job)}/flags/${idx}/review`, { method: "POST", body: { decision, comment } });
    toast(t("saved"));
    await openResult(job);
    await loadQueue();
  } catch (e) { toast(e.message); }
}

async function dispute(job, idx, reason) {
  try {
    await api(`/api/results/${encodeURIComponent(job)}/flags/${idx}/dispute`, { method: "POST", body: { reason } });
    toast(t("saved"));
    await openResult(job);
  } catch (e) { toast(e.message); }
}

async function decideDispute(job, idx, outcome, comment) {
  try {
    await api(`/api/results/${encodeURIComponent(job)}/flags/${idx}/dispute/decision`, { method: "POST", body: { outcome, comment } });
    toast(t("saved"));
    await openResult(job);
    await loadQueue();
  } catch (e) { toast(e.message); }
}

// ---- disputes, report, calibration ----------------------------------------------

async function loadDisputes() {
  const list = await api("/api/disputes?limit=500");
  const tb = $("disputes-table");
  tb.replaceChildren(el("tr", {}, ...["job", "flag", "agent", "by", "reasonh", "outcome", "opened"].map((k) => el("th", { text: t(k) }))));
  for (const d of list) {
    tb.append(el("tr", { "data-job": d.job_id },
      el("td", {}, el("a", { href: "#", text: d.job_id, onclick: (e) => { e.preventDefault(); showTab("queue"); openResult(d.job_id); } })),
      el("td", { class: "n", text: d.idx }), el("td", { text: d.agent_id }), el("td", { text: d.opened_by }),
      el("td", { text: d.reason }), el("td", {}, el("span", { class: `badge ${d.status}`, text: disputeName(d.status) })),
      el("td", { text: d.opened_at }),
    ));
  }
}

function reportQuery(format) {
  const q = new URLSearchParams({ period: $("report-period").value.trim(), format, lang: state.lang });
  const team = $("report-team").value.trim();
  if (team) q.set("team", team);
  return `/api/reports?${q}`;
}

const fmt = (v, d = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
const pct = (v) => (v === null || v === undefined ? "–" : `${(100 * v).toFixed(1)}%`);

async function loadReport() {
  let r;
  try { r = await api(reportQuery("json")); } catch (e) { toast(e.message); return; }
  $("report-meta").textContent = `${r.period.label} · ${r.scheme} · ${r.overall.contacts} ${t("contacts")}` + (r.dismissed_flags ? ` · ${r.dismissed_flags} ${t("excluded")}` : "");
  const tb = $("report-table");
  const heads = ["agent", "team", "contacts", "qa", "pass", "violations", "csat", "fcr", "composite", "grade", "bonus"];
  tb.replaceChildren(el("tr", {}, ...heads.map((k) => el("th", { text: t(k) }))));
  for (const a of r.agents) {
    tb.append(el("tr", { "data-agent": a.agent_id },
      el("td", { text: a.agent_id + (a.name ? " " + a.name : "") }), el("td", { text: a.team || "–" }),
      el("td", { class: "n contacts", text: a.kpis.contacts }), el("td", { class: "n score", text: fmt(a.kpis.avg_score) }),
      el("td", { class: "n", text: pct(a.kpis.pass_rate) }), el("td", { class: "n violations", text: a.kpis.violations }),
      el("td", { class: "n", text: fmt(a.kpis.csat, 2) }), el("td", { class: "n", text: pct(a.kpis.fcr_rate) }),
      el("td", { class: "n composite", text: fmt(a.composite.total) }), el("td", { class: "grade", text: a.grade || "–" }),
      el("td", { class: "n", text: fmt(a.bonus) }),
    ));
  }
  const box = $("report-coaching");
  box.replaceChildren(el("h3", { text: t("coaching") }));
  for (const a of r.agents) {
    if (!a.coaching.length) continue;
    box.append(el("div", { class: "coach", lang: a.language },
      el("b", { text: a.agent_id }),
      el("ul", {}, ...a.coaching.map((w) => el("li", {}, w.summary, w.suggestion ? el("div", { class: "hint", text: w.suggestion }) : null))),
    ));
  }
}

async function downloadReport() {
  try {
    const res = await api(reportQuery("html"), { raw: true });
    const blob = await res.blob();
    const a = el("a", { href: URL.createObjectURL(blob), download: `callqa-report-${$("report-period").value.trim()}.html` });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) { toast(e.message); }
}

// ---- dashboard ------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// A small line of the weekly QA scores, one dot per week; the scale runs
// from a round ten below the lowest score to 100, both written beside it.
function sparkline(weeks) {
  const w = 240, h = 56, pad = 5, left = 26;
  const scored = weeks.map((x, i) => [x.avg_score, i]).filter(([v]) => v !== null && v !== undefined);
  const lo = Math.max(0, Math.floor(Math.min(100, ...scored.map(([v]) => v)) / 10) * 10 - 10);
  const y = (v) => pad + ((100 - v) * (h - 2 * pad)) / (100 - lo);
  const x = (i) => left + pad + (weeks.length > 1 ? (i * (w - left - 2 * pad)) / (weeks.length - 1) : (w - left - 2 * pad) / 2);
  const pts = scored.map(([v, i]) => [x(i), y(v)]);
  const g = svg("svg", { class: "spark", width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": t("qa") });
  for (const v of [100, lo]) {
    g.append(svg("line", { class: "axis", x1: left, y1: y(v), x2: w, y2: y(v) }));
    const label = svg("text", { x: 0, y: y(v) + 4 });
    label.textContent = String(v);
    g.append(label);
  }
  if (pts.length > 1) g.append(svg("polyline", { points: pts.map((p) => p.join(",")).join(" ") }));
  for (const [x, y] of pts) g.append(svg("circle", { cx: x, cy: y, r: 2.5 }));
  return g;
}

function dashQuery() {
  const q = new URLSearchParams({ period: $("dash-period").value.trim(), format: "json", lang: state.lang });
  const team = $("dash-team").value.trim();
  if (team) q.set("team", team);
  return q;
}

async function loadDashboard() {
  const q = dashQuery();
  let r;
  try { r = await api(`/api/reports?${q}`); } catch (e) { toast(e.message); return; }
  state.dash = { period: q.get("period"), team: q.get("team") || "" };
  $("dash-meta").textContent = t("dashmeta")(r.period.label, r.overall.contacts, r.overall.violations);
  // Violations by flag: one bar each, longest first; a bar opens Search.
  const bars = $("dash-flags");
  bars.replaceChildren();
  const by = Object.entries(r.overall.violations_by_flag || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const top = by.length ? by[0][1] : 0;
  if (!by.length) bars.append(el("p", { class: "hint", text: t("noviol") }));
  for (const [flag, n] of by) {
    const fill = el("span", { class: "bar-fill" });
    fill.style.width = `${(100 * n) / top}%`;
    bars.append(el("button", { type: "button", class: "bar", "data-flag": flag, title: t("drillhint"), onclick: () => drillDown(flag) },
      el("span", { class: "bar-label", text: flagName(flag) }),
      el("span", { class: "bar-track" }, fill),
      el("span", { class: "bar-n", text: n }),
    ));
  }
  // Per agent: the weekly QA score as a line, and the weeks in a table.
  const box = $("dash-trend");
  box.replaceChildren();
  for (const a of r.agents) {
    if (!a.weeks || !a.weeks.length) continue;
    const tb = el("table", { class: "weeks" }, el("tr", {}, ...["week", "contacts", "qa", "pass", "violations", "topviol"].map((k) => el("th", { text: t(k) }))));
    for (const w of a.weeks) {
      tb.append(el("tr", { "data-week": w.week },
        el("td", { text: w.week }), el("td", { class: "n", text: w.contacts }), el("td", { class: "n score", text: fmt(w.avg_score) }),
        el("td", { class: "n", text: pct(w.pass_rate) }), el("td", { class: "n violations", text: w.violations }),
        el("td", { text: w.top_violation || "–" }),
      ));
    }
    box.append(el("div", { class: "trend", "data-agent": a.agent_id },
      el("div", { class: "who" }, el("b", { text: a.agent_id + (a.name ? " " + a.name : "") }), a.team ? el("span", { class: "hint", text: ` · ${a.team}` }) : null),
      sparkline(a.weeks), tb,
    ));
  }
}

// The contacts behind a bar: Search with only that flag, the dashboard's
// period and team.
function drillDown(flag) {
  for (const id of ["search-q", "search-agent", "search-rule", "search-channel", "search-min", "search-max", "search-severity", "search-state"]) $(id).value = "";
  $("search-flag").value = flag;
  $("search-period").value = state.dash ? state.dash.period : "";
  $("search-team").value = state.dash ? state.dash.team : "";
  showTab("search");
  runSearch(0).catch((e) => toast(e.message));
}

async function loadCalibration() {
  let c;
  try { c = await api(`/api/calibration?period=${encodeURIComponent($("cal-period").value.trim())}`); } catch (e) { toast(e.message); return; }
  const confirmed = c.rules.reduce((n, r) => n + r.confirmed, 0);
  $("cal-meta").textContent = c.decided ? t("calline")(c.decided, c.raised, confirmed, pct(c.agreement)) : t("calnone")(c.raised);
  const tb = $("cal-table");
  tb.replaceChildren(el("tr", {}, ...["rule", "flag", "raised", "confirmed", "dismissed", "pending", "precision"].map((k) => el("th", { text: t(k) }))));
  for (const r of c.rules) {
    tb.append(el("tr", { "data-rule": r.rule },
      el("td", { text: r.rule }), el("td", { text: flagName(r.flag) }), el("td", { class: "n", text: r.raised }),
      el("td", { class: "n", text: r.confirmed }), el("td", { class: "n", text: r.dismissed }),
      el("td", { class: "n", text: r.pending }), el("td", { class: "n precision", text: pct(r.precision) }),
    ));
  }
}

// ---- my tasks ----------------------------------------------------------------------

async function loadTasks() {
  const r = await api("/api/tasks?limit=500");
  $("tasks-progress").textContent = r.progress.map((p) => t("progress")(p)).join(" · ");
  const tb = $("tasks-table");
  tb.replaceChildren(el("tr", {}, ...["job", "agent", "plan", "reasonp", "due", "done"].map((k) => el("th", { text: t(k) }))));
  if (!r.tasks.length) tb.append(el("tr", {}, el("td", { colspan: 6, text: t("notasks") })));
  for (const k of r.tasks) {
    const done = k.done_at
      ? el("span", { class: "badge confirmed", text: t("done") })
      : el("button", { type: "button", class: "task-done", "data-job": k.job_id, text: t("markdone"), onclick: () => taskDone(k) });
    tb.append(el("tr", { "data-job": k.job_id, class: k.overdue ? "overdue" : null },
      el("td", {}, el("a", { href: "#", text: k.job_id, onclick: (e) => { e.preventDefault(); showTab("queue"); openResult(k.job_id).catch((x) => toast(x.message)); } })),
      el("td", { text: k.agent_id }), el("td", { text: `${k.plan} ${k.period}` }), el("td", { text: t(`rs_${k.reason}`) }),
      el("td", { class: "due", text: k.due_at.slice(0, 16).replace("T", " ") + (k.overdue ? ` (${t("overdue")})` : "") }),
      el("td", {}, done),
    ));
  }
}

async function taskDone(k) {
  try {
    await api("/api/tasks/done", { method: "POST", body: { plan: k.plan, period: k.period, job_id: k.job_id } });
    toast(t("saved"));
    await loadTasks();
  } catch (e) { toast(e.message); }
}

// ---- search ------------------------------------------------------------------------

const PAGE = 20;

function searchQuery(offset) {
  const q = new URLSearchParams({ limit: PAGE, offset });
  const put = (k, id) => { const v = $(id).value.trim(); if (v) q.set(k, v); };
  put("q", "search-q"); put("agent", "search-agent"); put("team", "search-team"); put("period", "search-period");
  put("rule", "search-rule"); put("flag", "search-flag"); put("severity", "search-severity");
  put("channel", "search-channel"); put("state", "search-state"); put("score_min", "search-min"); put("score_max", "search-max");
  return `/api/search?${q}`;
}

async function runSearch(offset) {
  const page = await api(searchQuery(offset));
  state.searchOffset = offset;
  state.searchJobs = page.contacts.map((c) => c.job_id);
  const to = offset + page.contacts.length;
  $("search-total").textContent = `${page.total} ${t("found")}` + (page.total ? ` · ${t("showing")} ${page.total ? offset + 1 : 0}–${to}` : "");
  const ul = $("search-results");
  ul.replaceChildren();
  for (const c of page.contacts) {
    ul.append(el("li", { "data-job": c.job_id, onclick: () => { showTab("queue"); openResult(c.job_id).catch((e) => toast(e.message)); } },
      el("b", { text: c.job_id }),
      el("span", { class: "meta", text: ` · ${c.agent_id}${c.team ? " · " + c.team : ""} · ${kindName(c.kind)} · ${c.channel} · ${t("score")} ${c.score} · ${c.started_at || "–"}` }),
      c.snippet ? el("div", { class: "snippet", text: c.snippet }) : null,
    ));
  }
  $("search-prev").disabled = offset === 0;
  $("search-next").disabled = to >= page.total;
}

// ---- calibration sessions ------------------------------------------------------------

async function loadSessions() {
  let list;
  try { list = await api("/api/calibration/sessions"); } catch (e) { toast(e.message); return; }
  const tb = $("ses-list");
  tb.replaceChildren(el("tr", {}, ...["sesname", "contacts", "by", "created", "outcome"].map((k) => el("th", { text: t(k) }))));
  if (!list.length) tb.append(el("tr", {}, el("td", { colspan: 5, text: t("nosessions") })));
  for (const x of list) {
    tb.append(el("tr", { "data-session": x.id, class: "pick" + ($("ses-id").value.trim() === x.id ? " selected" : ""), onclick: () => openSession(x.id) },
      el("td", { class: "name", text: x.name }), el("td", { class: "n", text: x.contacts }), el("td", { text: x.created_by }),
      el("td", { text: x.created_at.slice(0, 16).replace("T", " ") }),
      el("td", {}, el("span", { class: `badge ${x.closed ? "dismissed" : "open"}`, text: t(x.closed ? "ses_closed" : "ses_open") })),
    ));
  }
}

// Opens a session and refreshes the list (it may have been closed since).
async function openSession(id) {
  $("ses-id").value = id;
  for (const tr of document.querySelectorAll("#ses-list tr[data-session]")) tr.classList.toggle("selected", tr.dataset.session === id);
  await Promise.all([loadSession(), loadSessions()]);
}

async function createSession() {
  const jobs = $("ses-new-jobs").value.split(/[\s,，]+/).filter(Boolean);
  try {
    const r = await api("/api/calibration/sessions", { method: "POST", body: { name: $("ses-new-name").value.trim(), jobs } });
    toast(t("saved"));
    $("ses-new-name").value = "";
    $("ses-new-jobs").value = "";
    await openSession(r.id);
  } catch (e) { toast(e.message); }
}

async function loadSession() {
  const id = $("ses-id").value.trim();
  if (!id) return;
  let s;
  try { s = await api(`/api/calibration/sessions/${encodeURIComponent(id)}`); } catch (e) { toast(e.message); return; }
  const tb = $("ses-table");
  tb.replaceChildren();
  $("ses-entry").hidden = s.closed;
  if (!s.closed) {
    $("ses-meta").textContent = t("sesopen")(s.name, s.verdicts.length);
    const sel = $("ses-job");
    const keep = sel.value;
    sel.replaceChildren(...s.jobs.map((j) => el("option", { value: j, text: j })));
    if (keep) sel.value = keep;
    tb.append(el("tr", {}, ...["job", "rule", "outcome"].map((k) => el("th", { text: t(k) }))));
    for (const v of s.verdicts) tb.append(el("tr", {}, el("td", { text: v.job_id }), el("td", { text: v.rule }), el("td", { text: v.violated ? t("broken") : t("notbroken") })));
    return;
  }
  $("ses-meta").textContent = t("sesclosed")(s.name);
  const ag = (a) => `${pct(a.percent)} (${a.agreed}/${a.items}) · ${t("kappa")} ${a.kappa === null ? "–" : a.kappa.toFixed(2)}`;
  tb.append(el("tr", {}, ...["rule", "between", "withm", "disagree"].map((k) => el("th", { text: t(k) }))));
  for (const f of s.figures) {
    const dis = f.disagreements.map((d) => `${d.job_id}: ${t("machine")} ${d.machine ? "✓" : "✗"}, ` + d.verdicts.map(([r, v]) => `${r} ${v ? "✓" : "✗"}`).join(", "));
    tb.append(el("tr", { "data-rule": f.rule },
      el("td", { text: f.rule }), el("td", { class: "n between", text: ag(f.between_reviewers) }),
      el("td", { class: "n withm", text: ag(f.with_machine) }),
      el("td", { class: "disagree" }, ...dis.map((x) => el("div", { text: x }))),
    ));
  }
}

async function sessionVerdict(violated) {
  const id = $("ses-id").value.trim();
  try {
    await api(`/api/calibration/sessions/${encodeURIComponent(id)}/verdicts`, { method: "PUT", body: { job_id: $("ses-job").value, rule: $("ses-rule").value.trim(), violated } });
    toast(t("saved"));
    await loadSession();
  } catch (e) { toast(e.message); }
}

function showTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === name);
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${name}`;
  if (name === "disputes") loadDisputes().catch((e) => toast(e.message));
  if (name === "tasks") loadTasks().catch((e) => toast(e.message));
  if (name === "report") loadReport();
  if (name === "dashboard") loadDashboard();
  if (name === "calibration") { loadCalibration(); loadSessions(); }
}

// ---- start ----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  const savedLang = sessionStorage.getItem("callqa.lang");
  state.lang = savedLang || ((navigator.language || "").startsWith("zh") ? "zh" : "en");
  $("lang").value = state.lang;
  translate();
  $("lang").addEventListener("change", () => {
    state.lang = $("lang").value;
    sessionStorage.setItem("callqa.lang", state.lang);
    rerender();
  });
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    signIn($("token").value.trim());
  });
  $("logout").addEventListener("click", signOut);
  $("refresh").addEventListener("click", () => loadQueue().catch((e) => toast(e.message)));
  $("status-filter").addEventListener("change", () => loadQueue(0).catch((e) => toast(e.message)));
  $("queue-prev").addEventListener("click", () => loadQueue(Math.max(0, state.queueOffset - QUEUE_PAGE)).catch((e) => toast(e.message)));
  $("queue-next").addEventListener("click", () => loadQueue(state.queueOffset + QUEUE_PAGE).catch((e) => toast(e.message)));
  $("dash-load").addEventListener("click", loadDashboard);
  $("ses-new").addEventListener("submit", (e) => { e.preventDefault(); createSession(); });
  $("ses-from-search").addEventListener("click", () => { $("ses-new-jobs").value = state.searchJobs.join(" "); });
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("report-load").addEventListener("click", loadReport);
  $("report-html").addEventListener("click", downloadReport);
  $("cal-load").addEventListener("click", loadCalibration);
  $("ses-load").addEventListener("click", loadSession);
  $("ses-yes").addEventListener("click", () => sessionVerdict(true));
  $("ses-no").addEventListener("click", () => sessionVerdict(false));
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); runSearch(0).catch((err) => toast(err.message)); });
  $("search-prev").addEventListener("click", () => runSearch(Math.max(0, state.searchOffset - PAGE)).catch((e) => toast(e.message)));
  $("search-next").addEventListener("click", () => runSearch(state.searchOffset + PAGE).catch((e) => toast(e.message)));
  const saved = sessionStorage.getItem("callqa.token");
  if (saved) signIn(saved);
});
