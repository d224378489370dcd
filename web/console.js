/* console.js — the kefu agent console (GET /console), over the WebSocket
 * GET /v1/agents/ws: the core the other two files build on.
 *
 * The page loads three scripts, in order, with defer (web/console.html):
 *   console.js        state, strings, helpers, sign-in (REST), the socket and
 *                     its frames, answers to our frames, status, language,
 *                     keyboard, start;
 *   console_queue.js  the waiting queues and the offers made to this agent;
 *   console_conv.js   the conversations: tabs, transcripts, composing, canned
 *                     responses, transfer, hand-back and close.
 * They share one object, window.KefuConsole (K below; no other globals): this
 * file puts the state (K.st, K.el) and its helpers there, the others their
 * entry points; a call into another file goes through K, so it finds the
 * function whichever file is read first.  init waits for DOMContentLoaded,
 * which comes after every deferred script has run.
 *
 * Protocol: README.md, "Agent console WebSocket".  What the console adds on top:
 *  - sign-in with POST /v1/agents/login (the server sets the HttpOnly
 *    kefu_agent cookie, which the WebSocket upgrade then carries; this page
 *    never sees the token), GET /v1/agents/me on load, POST /v1/agents/logout;
 *  - every text reaches the page through textContent, never as HTML;
 *  - reconnects back off exponentially (0.5 s doubling to 30 s, with jitter);
 *    before each attempt /v1/agents/me says whether the login still holds
 *    (401: back to the sign-in form).  The welcome's `conversations` restore
 *    the tabs and each tab asks for its transcript again; messages are
 *    deduplicated by seq, so replays and live events can overlap;
 *  - every client frame carries a `ref`, so an `ok` or `error` answer is
 *    matched to what caused it (a failed message goes back into the box);
 *  - waits and offer countdowns tick each second from the server's numbers;
 *  - keyboard: real buttons, tabs with arrow keys, Enter sends (not while an
 *    IME is composing), Shift+Enter is a new line, Alt+Shift shortcuts
 *    (listed on the page); new offers, messages and errors are announced in
 *    aria-live regions.
 */
(function () {
  'use strict';

  var K = window.KefuConsole = {};

  var BACKOFF_MIN = 500, BACKOFF_MAX = 30000;
  var WELCOME_TIMEOUT = 10000;   // no welcome by then: drop the socket and retry
  var KEEPALIVE = 20000;         // app-level ping while connected...
  var PONG_TIMEOUT = 10000;      // ...the socket counts as dead without an answer
  var MAX_ERRORS = 4;            // error banners kept on screen
  var LANG_KEY = 'kefu.console.lang';

  var TEXT = {
    en: {
      skip: 'Skip to the conversation', title: 'Agent console', sideLabel: 'Offers, conversations and queues',
      factsLabel: 'Customer details', statusLabel: 'My status',
      online: 'Online', away: 'Away', offline: 'Offline', logout: 'Log out',
      loginTitle: 'Agent sign-in', agentId: 'Agent ID', password: 'Password', signIn: 'Sign in',
      signingIn: 'Signing in…',
      badLogin: 'Unknown agent ID or wrong password.',
      tooMany: 'Too many failed attempts. Try again in {s} s.',
      invalidLogin: 'Enter your agent ID and password.',
      busyLogin: 'The server is busy checking logins. Try again in a moment.',
      loginFailed: 'Sign-in failed (HTTP {status}).', netError: 'Cannot reach the server.',
      sessionEnded: 'Your session has ended. Please sign in again.',
      offersTitle: 'Offered to you', convsTitle: 'My conversations', queuesTitle: 'Waiting',
      noConvs: 'No conversations assigned to you.', noWaiting: 'Nobody waiting.',
      pickConv: 'Accept a conversation from the queue or an offer; it opens here.',
      keysTitle: 'Keyboard shortcuts', transferTo: 'Transfer to', transfer: 'Transfer',
      handback: 'Hand back to bot', close: 'Close conversation',
      closeQ: 'Close this conversation? The customer will be asked to rate it.',
      closeYes: 'Yes, close it', cancel: 'Cancel', customer: 'Customer', handoff: 'Handoff', slots: 'Slots',
      canned: 'Canned response', insert: 'Insert', cannedPick: '— choose a canned response —',
      inputLabel: 'Message to the customer',
      placeholder: 'Message to the customer — Enter sends, Shift+Enter for a new line',
      send: 'Send', noteLabel: 'Internal note', notePlaceholder: 'Internal note — not visible to the customer',
      addNote: 'Add note', widget: 'Customer chat',
      connIdle: '', connConnecting: 'Connecting…', connOnline: 'Connected',
      connOffline: 'Connection lost — retrying in {s} s',
      accept: 'Accept', reject: 'Reject', acceptWho: 'Accept conversation with {who}',
      rejectWho: 'Reject conversation with {who}', expiresIn: 'Expires in {s} s', expired: 'Expired',
      waited: 'Waiting {t}', vip: 'VIP {n}', offered: 'offered', offeredYou: 'offered to you', sticky: 'returning customer',
      skillWaiting: '{skill} · {n} waiting', intent: 'Intent', reason: 'Reason', summary: 'Summary',
      unread: '{n} unread', anonymous: 'Customer {id}',
      whoCustomer: 'Customer', whoBot: 'Bot', whoAgent: 'Agent', whoSystem: 'System',
      noteLabelFull: 'Internal note — not visible to the customer',
      confidence: '{p} confidence', entities: 'Entities',
      newOffer: 'New offer: {who}{vip}, {intent}. Press Alt+Shift+A to accept, Alt+Shift+R to reject.',
      offerGone: 'Offer for {who} withdrawn ({reason}).',
      newMessage: 'Message from {who}: {text}', assigned: 'Conversation with {who} is yours.',
      released: 'Conversation with {who} {reason}.',
      rel_closed: 'closed', rel_handed_back: 'handed back to the bot', rel_transferred: 'transferred',
      rel_ended: 'ended by the customer',
      wd_timeout: 'timed out', wd_taken: 'taken', wd_left: 'the customer left',
      skillsGroup: 'Skills', agentsGroup: 'Agents', skillOpt: 'skill: {s}', transferPick: '— choose —',
      errorCode: 'Error ({code}): {message}', dismiss: 'Dismiss',
      statusSet: 'Status: {s}', none: '—',
      k_accept: 'Accept the first offer', k_reject: 'Reject the first offer',
      k_next: 'Next / previous conversation', k_msg: 'Message box', k_note: 'Note box',
      k_canned: 'Canned responses', k_queue: 'Waiting queue', k_send: 'Send (in a message or note box)',
      k_newline: 'New line'
    },
    zh: {
      skip: '跳到对话', title: '坐席工作台', sideLabel: '分配、会话和排队', factsLabel: '客户信息', statusLabel: '我的状态',
      online: '在线', away: '离开', offline: '离线', logout: '退出登录',
      loginTitle: '坐席登录', agentId: '坐席工号', password: '密码', signIn: '登录',
      signingIn: '正在登录…',
      badLogin: '工号不存在或密码错误。',
      tooMany: '失败次数过多，请 {s} 秒后再试。',
      invalidLogin: '请输入工号和密码。',
      busyLogin: '服务器繁忙，请稍后再试。',
      loginFailed: '登录失败（HTTP {status}）。', netError: '无法连接服务器。',
      sessionEnded: '登录已失效，请重新登录。',
      offersTitle: '分配给您的会话', convsTitle: '我的会话', queuesTitle: '排队中',
      noConvs: '暂无分配给您的会话。', noWaiting: '无人排队。',
      pickConv: '从队列或分配提醒中接入会话，会话将在这里打开。',
      keysTitle: '快捷键', transferTo: '转接给', transfer: '转接',
      handback: '交还机器人', close: '结束会话',
      closeQ: '确定结束本会话吗？客户将被邀请评分。',
      closeYes: '确定结束', cancel: '取消', customer: '客户', handoff: '转人工', slots: '槽位',
      canned: '快捷话术', insert: '插入', cannedPick: '— 选择快捷话术 —',
      inputLabel: '发给客户的消息',
      placeholder: '发给客户的消息 — Enter 发送，Shift+Enter 换行',
      send: '发送', noteLabel: '内部备注', notePlaceholder: '内部备注 — 客户不可见',
      addNote: '添加备注', widget: '客户聊天',
      connIdle: '', connConnecting: '正在连接…', connOnline: '已连接',
      connOffline: '连接已断开，{s} 秒后重试',
      accept: '接入', reject: '拒绝', acceptWho: '接入与 {who} 的会话',
      rejectWho: '拒绝与 {who} 的会话', expiresIn: '{s} 秒后过期', expired: '已过期',
      waited: '已等待 {t}', vip: 'VIP {n}', offered: '已分配', offeredYou: '已分配给您', sticky: '老客户',
      skillWaiting: '{skill} · {n} 人排队', intent: '意图', reason: '原因', summary: '摘要',
      unread: '{n} 条未读', anonymous: '客户 {id}',
      whoCustomer: '客户', whoBot: '机器人', whoAgent: '坐席', whoSystem: '系统',
      noteLabelFull: '内部备注 — 客户不可见',
      confidence: '置信度 {p}', entities: '实体',
      newOffer: '新会话：{who}{vip}，{intent}。按 Alt+Shift+A 接入，Alt+Shift+R 拒绝。',
      offerGone: '{who} 的会话已撤回（{reason}）。',
      newMessage: '{who} 的消息：{text}', assigned: '与 {who} 的会话已分配给您。',
      released: '与 {who} 的会话已{reason}。',
      rel_closed: '结束', rel_handed_back: '交还机器人', rel_transferred: '转接',
      rel_ended: '由客户结束',
      wd_timeout: '超时', wd_taken: '已被接入', wd_left: '客户已离开',
      skillsGroup: '技能组', agentsGroup: '坐席', skillOpt: '技能组：{s}', transferPick: '— 请选择 —',
      errorCode: '错误（{code}）：{message}', dismiss: '关闭',
      statusSet: '状态：{s}', none: '—',
      k_accept: '接入第一个分配', k_reject: '拒绝第一个分配',
      k_next: '下一个 / 上一个会话', k_msg: '消息输入框', k_note: '备注输入框',
      k_canned: '快捷话术', k_queue: '排队列表', k_send: '发送（在消息或备注输入框中）',
      k_newline: '换行'
    }
  };

  var KEYS = [
    ['Alt+Shift+A', 'k_accept'], ['Alt+Shift+R', 'k_reject'], ['Alt+Shift+↓ / ↑', 'k_next'],
    ['Alt+Shift+M', 'k_msg'], ['Alt+Shift+N', 'k_note'], ['Alt+Shift+C', 'k_canned'],
    ['Alt+Shift+Q', 'k_queue'], ['Enter', 'k_send'], ['Shift+Enter', 'k_newline']
  ];

  /* ---- state ---- */
  var st = {
    lang: 'en',
    agent: null,             // {id, name, role, skills, languages, max_chats, status}
    ws: null,
    welcomed: false,
    wanted: false,           // a socket should be open (signed in, not logging out)
    attempt: 0,
    retryIn: 0,
    reconnectTimer: 0,
    welcomeTimer: 0,
    keepaliveTimer: 0,
    pongTimer: 0,
    conn: 'idle',
    skills: [],
    agents: [],
    canned: [],
    queues: null,            // the last queues frame
    queuesAt: 0,             // Date.now() when it came
    offers: new Map(),       // conversation_id -> {item, expiresAt, sticky, pending}
    convs: new Map(),        // conversation_id -> conversation (newConv, console_conv.js)
    order: [],               // conversation ids in tab order
    active: null,
    ref: 0,
    pending: new Map(),      // ref -> {kind, cid, text?}
    acceptFocus: new Set(),  // conversations this console asked to accept: open them when assigned
    composing: false
  };
  var el = {};

  function t(key, vars) {
    var s = (TEXT[st.lang] || TEXT.en)[key];
    if (s === undefined) s = TEXT.en[key];
    if (s === undefined) s = key;
    if (vars) Object.keys(vars).forEach(function (k) { s = s.split('{' + k + '}').join(String(vars[k])); });
    return s;
  }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function button(cls, text, onclick) {
    var b = node('button', cls, text);
    b.type = 'button';
    if (onclick) b.addEventListener('click', onclick);
    return b;
  }

  function str(v) { return typeof v === 'string' ? v : (v === undefined || v === null ? '' : String(v)); }

  function asText(v) {
    if (v === null || v === undefined || v === '') return t('none');
    if (typeof v === 'object') { try { return JSON.stringify(v); } catch (e) { return String(v); } }
    return String(v);
  }

  function fmtTime(at) {
    var d = typeof at === 'number' ? new Date(at) : (at ? new Date(at) : null);
    if (!d || isNaN(d.getTime())) return '';
    try {
      return d.toLocaleTimeString(st.lang === 'zh' ? 'zh-CN' : 'en', { hour: '2-digit', minute: '2-digit' });
    } catch (e) { return ''; }
  }

  function fmtDur(s) {
    s = Math.max(0, Math.floor(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (h ? String(m).padStart(2, '0') : String(m)) + ':' + String(sec).padStart(2, '0');
    return h ? h + ':' + mm : mm;
  }

  function whoOf(item, cid) {
    var name = item && typeof item.customer_name === 'string' && item.customer_name ? item.customer_name : '';
    return name || t('anonymous', { id: String(cid || (item && item.conversation_id) || '').slice(0, 6) });
  }

  function cssEsc(s) { return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&'); }

  // what console_queue.js and console_conv.js take from here (function
  // declarations are hoisted, so this can come before some of them)
  Object.assign(K, {
    st: st, el: el, t: t, node: node, button: button, str: str, asText: asText, fmtTime: fmtTime, fmtDur: fmtDur,
    whoOf: whoOf, cssEsc: cssEsc, announce: announce, showError: showError, send: send, updateTitle: updateTitle
  });

  /* ---- announcements and errors ---- */
  function announce(text, urgent) {
    var region = urgent ? el.announceUrgent : el.announce;
    if (urgent) {
      region.textContent = '';
      setTimeout(function () { region.textContent = text; }, 30);
      return;
    }
    region.appendChild(node('p', null, text));
    while (region.children.length > 5) region.removeChild(region.firstChild);
  }

  function showError(text) {
    var item = node('div', 'error');
    item.appendChild(node('span', 'error-text', text));
    item.appendChild(button('error-x', '×', function () { item.remove(); }));
    item.lastChild.setAttribute('aria-label', t('dismiss'));
    el.errors.appendChild(item);
    while (el.errors.children.length > MAX_ERRORS) el.errors.removeChild(el.errors.firstChild);
    setTimeout(function () { item.remove(); }, 20000);
  }

  /* ---- REST: sign in, who am I, sign out ---- */
  function api(method, path, body) {
    var opts = { method: method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (r) {
      return r.text().then(function (txt) {
        var doc = null;
        try { doc = txt ? JSON.parse(txt) : null; } catch (e) { doc = null; }
        return { status: r.status, body: doc, headers: r.headers };
      });
    });
  }

  function showLogin(message) {
    stopSocket();
    st.agent = null;
    el.desk.hidden = true;
    el.whoami.hidden = true;
    el.login.hidden = false;
    setConn('idle');
    el.loginBtn.disabled = false;
    el.loginBtn.textContent = t('signIn');
    if (message) {
      el.loginError.textContent = message;
      el.loginError.hidden = false;
    } else {
      el.loginError.hidden = true;
    }
    (el.agentId.value ? el.password : el.agentId).focus();
  }

  function login(e) {
    e.preventDefault();
    var id = el.agentId.value.trim(), pw = el.password.value;
    if (!id || !pw) {
      el.loginError.textContent = t('invalidLogin');
      el.loginError.hidden = false;
      (id ? el.password : el.agentId).focus();
      return;
    }
    el.loginBtn.disabled = true;
    el.loginBtn.textContent = t('signingIn');
    el.loginError.hidden = true;
    api('POST', '/v1/agents/login', { agent_id: id, password: pw }).then(function (r) {
      el.loginBtn.disabled = false;
      el.loginBtn.textContent = t('signIn');
      if (r.status === 200 && r.body && r.body.agent) {
        el.password.value = '';
        startDesk(r.body.agent);
        return;
      }
      var msg;
      if (r.status === 401) msg = t('badLogin');
      else if (r.status === 429) msg = t('tooMany', { s: Number(r.headers.get('retry-after')) || 60 });
      else if (r.status === 422) msg = t('invalidLogin');
      else if (r.status === 503) msg = t('busyLogin');
      else msg = t('loginFailed', { status: r.status });
      el.loginError.textContent = msg;
      el.loginError.hidden = false;
      el.password.select();
      el.password.focus();
    }, function () {
      el.loginBtn.disabled = false;
      el.loginBtn.textContent = t('signIn');
      el.loginError.textContent = t('netError');
      el.loginError.hidden = false;
    });
  }

  function logout() {
    st.wanted = false;
    stopSocket();
    api('POST', '/v1/agents/logout').catch(function () { /* the cookie expires anyway */ }).then(function () {
      resetDesk();
      showLogin();
    });
  }

  function startDesk(agent) {
    st.agent = agent;
    el.login.hidden = true;
    el.desk.hidden = false;
    el.whoami.hidden = false;
    el.agentName.textContent = str(agent.name) || str(agent.id);
    el.agentName.title = str(agent.id);
    setStatusSelect(agent.status);
    st.wanted = true;
    st.attempt = 0;
    connect();
    if (!st.active) el.main.focus();
  }

  function resetDesk() {
    st.offers.clear();
    st.convs.forEach(function (c) { c.thread.remove(); c.tab.remove(); });
    st.convs.clear();
    st.order = [];
    st.active = null;
    st.queues = null;
    st.pending.clear();
    st.acceptFocus.clear();
    el.queues.textContent = '';
    K.renderOffers();
    K.renderTabs();
    K.showActive();
  }

  /* ---- socket ---- */
  function send(obj, pending) {
    if (!st.ws || st.ws.readyState !== 1 || !st.welcomed) return null;
    var ref = 'r' + (++st.ref);
    obj.ref = ref;
    try { st.ws.send(JSON.stringify(obj)); } catch (e) { return null; }
    if (pending) st.pending.set(ref, pending);
    return ref;
  }

  function connect() {
    clearTimeout(st.reconnectTimer);
    st.reconnectTimer = 0;
    if (st.ws || !st.wanted) return;
    setConn('connecting');
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/agents/ws';
    var ws;
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    st.ws = ws;
    st.welcomed = false;
    clearTimeout(st.welcomeTimer);
    st.welcomeTimer = setTimeout(function () {
      if (st.ws === ws && !st.welcomed) { try { ws.close(); } catch (e) { /* */ } lost(ws); }
    }, WELCOME_TIMEOUT);
    ws.onmessage = function (ev) {
      if (st.ws !== ws) return;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === 'object' && typeof f.type === 'string') handle(f);
    };
    ws.onclose = function () { lost(ws); };
    ws.onerror = function () { /* a close follows */ };
  }

  function stopSocket() {
    var ws = st.ws;
    st.ws = null;
    st.welcomed = false;
    clearTimeout(st.reconnectTimer);
    clearTimeout(st.welcomeTimer);
    clearTimeout(st.keepaliveTimer);
    clearTimeout(st.pongTimer);
    st.reconnectTimer = st.pongTimer = 0;
    if (ws) try { ws.close(1000); } catch (e) { /* ignore */ }
  }

  function lost(ws) {
    if (!ws || st.ws !== ws) return;
    st.ws = null;
    st.welcomed = false;
    clearTimeout(st.welcomeTimer);
    clearTimeout(st.keepaliveTimer);
    clearTimeout(st.pongTimer);
    st.pongTimer = 0;
    // answers to frames on the old socket will never come
    st.pending.forEach(function (p) { failPending(p, null); });
    st.pending.clear();
    // (after a 1008 / `unauthorized`, the /v1/agents/me check before the next
    // attempt sends the agent to the sign-in form)
    if (st.wanted) scheduleReconnect();
  }

  function scheduleReconnect() {
    if (st.reconnectTimer || !st.wanted) return;
    var delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, st.attempt));
    delay = Math.round(delay * (0.75 + Math.random() * 0.5));
    st.attempt = Math.min(st.attempt + 1, 16);
    st.retryIn = Math.ceil(delay / 1000);
    setConn('offline');
    st.reconnectTimer = setTimeout(function () { st.reconnectTimer = 0; checkSession(); }, delay);
  }

  /* Before (re)connecting: is the login still good?  401: sign in again. */
  function checkSession() {
    if (!st.wanted) return;
    api('GET', '/v1/agents/me').then(function (r) {
      if (!st.wanted) return;
      if (r.status === 401) { st.wanted = false; resetDesk(); showLogin(t('sessionEnded')); return; }
      if (r.status === 200 && r.body && r.body.agent) st.agent = r.body.agent;
      connect();
    }, function () { scheduleReconnect(); });
  }

  function reconnectNow() {
    if (st.ws || !st.wanted) return;
    st.attempt = 0;
    clearTimeout(st.reconnectTimer);
    st.reconnectTimer = 0;
    checkSession();
  }

  function armKeepalive() {
    clearTimeout(st.keepaliveTimer);
    st.keepaliveTimer = setTimeout(function () {
      if (st.welcomed && st.ws) {
        try { st.ws.send(JSON.stringify({ type: 'ping' })); } catch (e) { /* close follows */ }
        if (!st.pongTimer) {
          var ws = st.ws;
          st.pongTimer = setTimeout(function () {
            st.pongTimer = 0;
            if (st.ws === ws) { try { ws.close(); } catch (e) { /* */ } lost(ws); }
          }, PONG_TIMEOUT);
        }
      }
      armKeepalive();
    }, KEEPALIVE);
  }

  function setConn(s) {
    st.conn = s;
    el.conn.setAttribute('data-state', s);
    el.connText.textContent = s === 'online' ? t('connOnline') : s === 'connecting' ? t('connConnecting')
      : s === 'offline' ? t('connOffline', { s: st.retryIn }) : '';
    el.statusSelect.disabled = s !== 'online';
  }

  /* ---- frames ---- */
  function handle(f) {
    // any answer but ok/error settles its frame (assigned for accept, status, transcript)
    if (typeof f.ref === 'string' && f.type !== 'ok' && f.type !== 'error') st.pending.delete(f.ref);
    switch (f.type) {
    case 'welcome': return onWelcome(f);
    case 'queues': return K.onQueues(f);
    case 'offer': return K.onOffer(f);
    case 'offer_withdrawn': return K.onOfferWithdrawn(f);
    case 'assigned': return K.onAssigned(f);
    case 'message': return K.onMessage(f);
    case 'note': return K.onNote(f);
    case 'transcript': return K.onTranscript(f);
    case 'released': return K.onReleased(f);
    case 'status': setStatusSelect(f.status); announce(t('statusSet', { s: t(f.status) })); return;
    case 'ok': return onOk(f);
    case 'error': return onError(f);
    case 'pong': clearTimeout(st.pongTimer); st.pongTimer = 0; return;
    default: return;
    }
  }

  function onWelcome(f) {
    clearTimeout(st.welcomeTimer);
    st.welcomed = true;
    st.attempt = 0;
    if (f.agent && typeof f.agent === 'object') {
      st.agent = f.agent;
      el.agentName.textContent = str(f.agent.name) || str(f.agent.id);
      el.agentName.title = str(f.agent.id);
      setStatusSelect(f.agent.status);
    }
    st.skills = Array.isArray(f.skills) ? f.skills.filter(function (s) { return typeof s === 'string'; }) : [];
    st.agents = Array.isArray(f.agents) ? f.agents.filter(function (a) { return a && typeof a.id === 'string'; }) : [];
    st.canned = Array.isArray(f.canned) ? f.canned.filter(function (c) { return c && typeof c === 'object'; }) : [];
    setConn('online');
    armKeepalive();
    K.renderTransferTargets();
    K.renderCanned();
    // Offers seen on the old socket: the queues frame that follows says which
    // still stand (offered to this agent), see onQueues (console_queue.js).
    st.offers.clear();
    K.renderOffers();
    // The conversations assigned now: restore their tabs, drop the others.
    K.restoreConvs(Array.isArray(f.conversations) ? f.conversations : []);
  }

  /* ---- answers to this console's frames (ok, error; matched by ref) ---- */
  function onOk(f) {
    var p = f.ref && st.pending.get(f.ref);
    if (!p) return;
    st.pending.delete(f.ref);
    if (p.kind === 'reject') K.offerRejected(p.cid);
    if (p.kind === 'transfer' || p.kind === 'handback' || p.kind === 'close') K.enableActions();
  }

  function onError(f) {
    var p = f.ref ? st.pending.get(f.ref) : null;
    if (p) st.pending.delete(f.ref);
    failPending(p, f);
    showError(t('errorCode', { code: str(f.code) || 'error', message: str(f.message) }));
    announce(str(f.message) || str(f.code), true);
  }

  // A frame that will not succeed: undo what the page did when it sent it
  // (f: the error, or null when the socket went first).
  function failPending(p, f) {
    if (!p) return;
    if (p.kind === 'accept' || p.kind === 'reject') K.undoOffer(p, f && f.code);
    else if (p.kind === 'status') setStatusSelect(st.agent && st.agent.status);  // the select shows what the server has
    else K.undoConv(p);
  }

  /* ---- status ---- */
  function setStatusSelect(s) {
    if (s === 'online' || s === 'away' || s === 'offline') {
      el.statusSelect.value = s;
      el.statusSelect.setAttribute('data-status', s);
      if (st.agent) st.agent.status = s;
    }
  }

  /* ---- the page title counts unread messages and offers ---- */
  function updateTitle() {
    var unread = 0;
    st.convs.forEach(function (c) { unread += c.unread; });
    var n = unread + st.offers.size;
    document.title = (n ? '(' + n + ') ' : '') + (st.lang === 'zh' ? 'kefu 客服 — 坐席工作台' : 'kefu 客服 — agent console');
  }

  /* ---- language ---- */
  function applyLang(lang) {
    st.lang = TEXT[lang] ? lang : 'en';
    try { window.localStorage.setItem(LANG_KEY, st.lang); } catch (e) { /* ignore */ }
    document.documentElement.lang = st.lang === 'zh' ? 'zh-CN' : 'en';
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n]'), function (n) {
      n.textContent = t(n.getAttribute('data-i18n'));
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n-aria]'), function (n) {
      n.setAttribute('aria-label', t(n.getAttribute('data-i18n-aria')));
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n-placeholder]'), function (n) {
      n.setAttribute('placeholder', t(n.getAttribute('data-i18n-placeholder')));
    });
    Array.prototype.forEach.call(document.querySelectorAll('.lang-btn'), function (b) {
      b.setAttribute('aria-pressed', b.getAttribute('data-lang') === st.lang ? 'true' : 'false');
    });
    el.keysList.textContent = '';
    KEYS.forEach(function (k) {
      el.keysList.appendChild(node('dt', null, k[0]));
      el.keysList.appendChild(node('dd', null, t(k[1])));
    });
    setConn(st.conn);
    K.renderCanned();
    K.renderTransferTargets();
    if (st.queues) K.renderQueues();
    K.renderOffers();
    K.renderTabs();
    K.showActive();
    K.relabel();
    updateTitle();
  }

  /* ---- keyboard ---- */
  function onKey(e) {
    if (e.key === 'Escape' && !el.closeConfirm.hidden) { e.preventDefault(); K.hideConfirm(true); return; }
    if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey || el.desk.hidden) return;
    var first = st.offers.keys().next();
    switch (e.code) {
    case 'KeyA': if (!first.done) { e.preventDefault(); K.accept(first.value); } return;
    case 'KeyR': if (!first.done) { e.preventDefault(); K.reject(first.value); } return;
    case 'ArrowDown': e.preventDefault(); K.cycle(1); return;
    case 'ArrowUp': e.preventDefault(); K.cycle(-1); return;
    case 'KeyM': if (st.active) { e.preventDefault(); el.input.focus(); } return;
    case 'KeyN': if (st.active) { e.preventDefault(); el.noteInput.focus(); } return;
    case 'KeyC': if (st.active) { e.preventDefault(); el.canned.focus(); } return;
    case 'KeyQ': {
      e.preventDefault();
      var b = el.queues.querySelector('button.accept:not([disabled])');
      (b || el.queuesTitle).focus();
      return;
    }
    default: return;
    }
  }

  /* ---- start ---- */
  function init() {
    // every element the console uses, by id: 'conn-text' is el.connText
    ['announce', 'announce-urgent', 'errors', 'conn', 'conn-text', 'login', 'login-form', 'login-error', 'login-btn',
     'agent-id', 'password', 'desk', 'whoami', 'agent-name', 'status-select', 'logout', 'offers', 'offer-list',
     'tabs', 'tabs-empty', 'convs-count', 'queues', 'queues-title', 'keys-list', 'main', 'no-conv', 'conv',
     'conv-title', 'conv-sub', 'log', 'facts-customer', 'facts-handoff', 'facts-slots', 'transfer-target',
     'transfer', 'handback', 'close', 'close-confirm', 'close-yes', 'close-no', 'composer', 'canned',
     'canned-insert', 'input', 'note-form', 'note-input'].forEach(function (id) {
      el[id.replace(/-([a-z])/g, function (m, c) { return c.toUpperCase(); })] = document.getElementById(id);
    });
    el.queuesTitle.tabIndex = -1;

    var lang = null;
    try { lang = window.localStorage.getItem(LANG_KEY); } catch (e) { lang = null; }
    if (!lang) lang = /^zh\b/i.test(navigator.language || '') ? 'zh' : 'en';
    applyLang(lang);

    el.loginForm.addEventListener('submit', login);
    el.logout.addEventListener('click', logout);
    el.statusSelect.addEventListener('change', function () {
      var want = el.statusSelect.value;
      var was = st.agent && st.agent.status;
      if (!send({ type: 'status', status: want }, { kind: 'status' })) setStatusSelect(was);
    });
    K.bindConv();
    Array.prototype.forEach.call(document.querySelectorAll('.lang-btn'), function (b) {
      b.addEventListener('click', function () { applyLang(b.getAttribute('data-lang')); });
    });
    document.addEventListener('keydown', onKey);
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) return;
      var c = st.active && st.convs.get(st.active);
      if (c && c.unread) { c.unread = 0; K.renderTabs(); updateTitle(); }
      reconnectNow();
    });
    window.addEventListener('online', reconnectNow);
    setInterval(K.tick, 1000);
    K.renderTabs();
    K.showActive();

    // Signed in already (the cookie)?  Then straight to the desk.
    api('GET', '/v1/agents/me').then(function (r) {
      if (r.status === 200 && r.body && r.body.agent) startDesk(r.body.agent);
      else showLogin();
    }, function () { showLogin(t('netError')); });
  }

  // Not before DOMContentLoaded: console_queue.js and console_conv.js run
  // after this file (deferred scripts keep their order) and before that event.
  if (document.readyState === 'complete') init();
  else document.addEventListener('DOMContentLoaded', init);
}());
