/* console.js — the kefu agent console (GET /console), over the WebSocket
 * GET /v1/agents/ws.
 *
 * Protocol: README.md, "Agent console WebSocket".  What this file adds on top:
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
 *  - waits and offer countdowns tick each second from the server's numbers:
 *    queue waits from enqueued_at and the frame's `now` (so the browser's
 *    clock does not matter), offers from expires_in_s;
 *  - keyboard: real buttons, tabs with arrow keys, Enter sends (not while an
 *    IME is composing), Shift+Enter is a new line, Alt+Shift shortcuts
 *    (listed on the page); new offers, messages and errors are announced in
 *    aria-live regions.
 */
(function () {
  'use strict';

  var BACKOFF_MIN = 500, BACKOFF_MAX = 30000;
  var WELCOME_TIMEOUT = 10000;   // no welcome by then: drop the socket and retry
  var KEEPALIVE = 20000;         // app-level ping while connected...
  var PONG_TIMEOUT = 10000;      // ...the socket counts as dead without an answer
  var REFRESH_DELAY = 700;       // ms after a customer message: fetch intents and slots
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
    convs: new Map(),        // conversation_id -> conversation (see newConv)
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
    renderOffers();
    renderTabs();
    showActive();
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
    case 'queues': return onQueues(f);
    case 'offer': return onOffer(f);
    case 'offer_withdrawn': return onOfferWithdrawn(f);
    case 'assigned': return onAssigned(f);
    case 'message': return onMessage(f);
    case 'note': return onNote(f);
    case 'transcript': return onTranscript(f);
    case 'released': return onReleased(f);
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
    renderTransferTargets();
    renderCanned();
    // Offers seen on the old socket: the queues frame that follows says which
    // still stand (offered to this agent), see onQueues.
    st.offers.clear();
    renderOffers();
    // The conversations assigned now: restore their tabs, drop the others.
    var list = Array.isArray(f.conversations) ? f.conversations : [];
    var keep = new Set();
    list.forEach(function (item) {
      if (!item || typeof item.conversation_id !== 'string') return;
      keep.add(item.conversation_id);
      ensureConv(item);
    });
    st.order.slice().forEach(function (cid) { if (!keep.has(cid)) dropConv(cid); });
    st.convs.forEach(function (c) { requestTranscript(c.id); });
    renderTabs();
    if (!st.active && st.order.length) activate(st.order[0], false);
    else showActive();
  }

  function requestTranscript(cid) {
    send({ type: 'transcript', conversation_id: cid }, { kind: 'transcript', cid: cid });
  }

  /* ---- queues ---- */
  function onQueues(f) {
    st.queues = f;
    st.queuesAt = Date.now();
    // An offer this console has not heard of (made while it was reconnecting, or
    // before a reload) is in the queue as offered to this agent: show it as an
    // offer too, without a countdown (the frame does not say when it expires).
    // Such an offer goes when the queue no longer shows it offered to this agent.
    var me = st.agent && st.agent.id, changed = false, mine = new Set();
    (Array.isArray(f.skills) ? f.skills : []).forEach(function (q) {
      (q && Array.isArray(q.waiting) ? q.waiting : []).forEach(function (item) {
        var cid = item && item.conversation_id;
        if (!me || typeof cid !== 'string' || item.state !== 'offered' || item.agent_id !== me) return;
        mine.add(cid);
        if (st.offers.has(cid) || st.convs.has(cid) || st.acceptFocus.has(cid)) return;
        st.offers.set(cid, { item: item, expiresAt: 0, sticky: false });
        changed = true;
      });
    });
    st.offers.forEach(function (o, cid) {
      if (!o.expiresAt && !o.pending && !mine.has(cid)) { st.offers.delete(cid); changed = true; }
    });
    if (changed) { renderOffers(); updateTitle(); }
    renderQueues();
  }

  // Seconds this item has waited, now: from the server's clock when it said.
  function waitedS(item, frameNow, receivedAt) {
    var elapsed = (Date.now() - receivedAt) / 1000;
    if (typeof item.enqueued_at === 'number' && typeof frameNow === 'number' && frameNow >= item.enqueued_at)
      return (frameNow - item.enqueued_at) / 1000 + elapsed;
    if (typeof item.wait_s === 'number') return item.wait_s + elapsed;
    return elapsed;
  }

  function badges(parent, item) {
    var vip = Number(item.vip_tier) || 0;
    if (vip > 0) parent.appendChild(node('span', 'badge vip', t('vip', { n: vip })));
    if (item.language) parent.appendChild(node('span', 'badge lang', str(item.language)));
    if (item.skill) parent.appendChild(node('span', 'badge skill', str(item.skill)));
  }

  function itemDetails(parent, item) {
    var meta = node('p', 'item-meta');
    if (item.intent) {
      meta.appendChild(node('span', 'k', t('intent') + ': '));
      meta.appendChild(node('span', 'v intent', str(item.intent)));
    }
    if (item.reason) {
      if (meta.childNodes.length) meta.appendChild(document.createTextNode(' · '));
      meta.appendChild(node('span', 'k', t('reason') + ': '));
      meta.appendChild(node('span', 'v', str(item.reason)));
    }
    if (meta.childNodes.length) parent.appendChild(meta);
    if (item.summary) parent.appendChild(node('p', 'summary', str(item.summary)));
  }

  function renderQueues() {
    var f = st.queues;
    // keep keyboard focus on the same item's button across a redraw
    var focusCid = null;
    var a = document.activeElement;
    if (a && el.queues.contains(a)) focusCid = a.getAttribute('data-cid');
    el.queues.textContent = '';
    var skills = f && Array.isArray(f.skills) ? f.skills : [];
    var total = 0;
    skills.forEach(function (q) {
      if (!q || typeof q !== 'object') return;
      var waiting = Array.isArray(q.waiting) ? q.waiting : [];
      total += waiting.length;
      var sec = node('section', 'queue');
      sec.setAttribute('data-skill', str(q.skill));
      var h = node('h3', null, t('skillWaiting', { skill: str(q.skill), n: waiting.length }));
      sec.appendChild(h);
      var ul = node('ul', 'qlist');
      waiting.forEach(function (item) {
        if (!item || typeof item.conversation_id !== 'string') return;
        var cid = item.conversation_id;
        var li = node('li', 'qitem');
        li.setAttribute('data-cid', cid);
        if (item.state) li.setAttribute('data-state', str(item.state));
        var head = node('div', 'item-head');
        head.appendChild(node('span', 'name', whoOf(item, cid)));
        badges(head, item);
        if (item.state === 'offered') {
          var toMe = st.agent && item.agent_id === st.agent.id;
          head.appendChild(node('span', 'badge offered', t(toMe ? 'offeredYou' : 'offered')));
        }
        li.appendChild(head);
        itemDetails(li, item);
        var foot = node('div', 'item-foot');
        var w = node('span', 'wait');
        w._wait = { base: waitedS(item, f.now, st.queuesAt), at: Date.now() };
        w.textContent = t('waited', { t: fmtDur(w._wait.base) });
        foot.appendChild(w);
        var acc = button('accept', t('accept'), function () { accept(cid); });
        acc.setAttribute('data-cid', cid);
        acc.setAttribute('aria-label', t('acceptWho', { who: whoOf(item, cid) }));
        if (st.convs.has(cid) || st.acceptFocus.has(cid)) acc.disabled = true;
        foot.appendChild(acc);
        li.appendChild(foot);
        ul.appendChild(li);
      });
      if (!waiting.length) sec.appendChild(node('p', 'empty', t('noWaiting')));
      else sec.appendChild(ul);
      el.queues.appendChild(sec);
    });
    if (!skills.length) el.queues.appendChild(node('p', 'empty', t('noWaiting')));
    el.queues.setAttribute('data-total', String(total));
    if (focusCid) {
      var b = el.queues.querySelector('button.accept[data-cid="' + cssEsc(focusCid) + '"]');
      if (b && !b.disabled) b.focus(); else el.queuesTitle.focus();
    }
  }

  function cssEsc(s) { return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&'); }

  /* ---- offers ---- */
  function onOffer(f) {
    var cid = f.conversation_id;
    if (typeof cid !== 'string') return;
    var secs = Number(f.expires_in_s);
    st.offers.set(cid, { item: f, expiresAt: Date.now() + (secs > 0 ? secs : 30) * 1000, sticky: !!f.sticky });
    renderOffers();
    var vip = Number(f.vip_tier) > 0 ? ' (' + t('vip', { n: f.vip_tier }) + ')' : '';
    announce(t('newOffer', { who: whoOf(f, cid), vip: vip, intent: str(f.intent) || str(f.skill) }), true);
    updateTitle();
  }

  function onOfferWithdrawn(f) {
    var o = st.offers.get(f.conversation_id);
    if (!o) return;
    st.offers.delete(f.conversation_id);
    renderOffers();
    if (!st.acceptFocus.has(f.conversation_id) || f.reason !== 'taken')
      announce(t('offerGone', { who: whoOf(o.item, f.conversation_id), reason: t('wd_' + f.reason) }));
    updateTitle();
  }

  function renderOffers() {
    var a = document.activeElement;
    var focus = a && el.offerList.contains(a) ? { cid: a.getAttribute('data-cid'), act: a.getAttribute('data-act') } : null;
    el.offerList.textContent = '';
    st.offers.forEach(function (o, cid) {
      var item = o.item;
      var li = node('li', 'offer');
      li.setAttribute('data-cid', cid);
      var head = node('div', 'item-head');
      head.appendChild(node('span', 'name', whoOf(item, cid)));
      badges(head, item);
      if (o.sticky) head.appendChild(node('span', 'badge sticky', t('sticky')));
      li.appendChild(head);
      itemDetails(li, item);
      var foot = node('div', 'item-foot');
      var cd = node('span', 'countdown');
      cd._offer = o;
      foot.appendChild(cd);
      var acc = button('accept primary', t('accept'), function () { accept(cid); });
      acc.setAttribute('data-cid', cid);
      acc.setAttribute('data-act', 'accept');
      acc.setAttribute('aria-label', t('acceptWho', { who: whoOf(item, cid) }));
      var rej = button('reject', t('reject'), function () { reject(cid); });
      rej.setAttribute('data-cid', cid);
      rej.setAttribute('data-act', 'reject');
      rej.setAttribute('aria-label', t('rejectWho', { who: whoOf(item, cid) }));
      if (o.pending) { acc.disabled = true; rej.disabled = true; }
      foot.appendChild(acc);
      foot.appendChild(rej);
      li.appendChild(foot);
      el.offerList.appendChild(li);
      tickOffer(cd);
    });
    el.offers.hidden = st.offers.size === 0;
    if (focus) {
      var b = el.offerList.querySelector('button[data-cid="' + cssEsc(focus.cid) + '"][data-act="' + focus.act + '"]');
      if (b && !b.disabled) b.focus();
      else if (st.offers.size) { var first = el.offerList.querySelector('button.accept:not([disabled])'); if (first) first.focus(); }
      else el.main.focus();
    }
  }

  function tickOffer(cd) {
    var o = cd._offer;
    if (!o.expiresAt) { cd.textContent = ''; return; }
    var left = Math.ceil((o.expiresAt - Date.now()) / 1000);
    if (left > 0) {
      cd.textContent = t('expiresIn', { s: left });
      cd.classList.toggle('soon', left <= 10);
    } else {
      cd.textContent = t('expired');
      var li = cd.closest('li');
      if (li) Array.prototype.forEach.call(li.querySelectorAll('button'), function (b) { b.disabled = true; });
      // the server says offer_withdrawn; if that got lost, forget it a little later
      if (left < -3 && st.offers.get(li && li.getAttribute('data-cid')) === o) {
        st.offers.delete(li.getAttribute('data-cid'));
        renderOffers();
        updateTitle();
      }
    }
  }

  function accept(cid) {
    var o = st.offers.get(cid);
    if (o) { o.pending = true; renderOffers(); }
    st.acceptFocus.add(cid);
    renderQueuesButtons();
    if (!send({ type: 'accept', conversation_id: cid }, { kind: 'accept', cid: cid })) {
      st.acceptFocus.delete(cid);
      if (o) { o.pending = false; renderOffers(); }
      renderQueuesButtons();
    }
  }

  function reject(cid) {
    var o = st.offers.get(cid);
    if (!o) return;
    o.pending = true;
    renderOffers();
    if (!send({ type: 'reject', conversation_id: cid }, { kind: 'reject', cid: cid })) { o.pending = false; renderOffers(); }
  }

  function renderQueuesButtons() {
    Array.prototype.forEach.call(el.queues.querySelectorAll('button.accept'), function (b) {
      var cid = b.getAttribute('data-cid');
      b.disabled = st.convs.has(cid) || st.acceptFocus.has(cid);
    });
  }

  /* ---- conversations ---- */
  function newConv(item) {
    var cid = item.conversation_id;
    var c = {
      id: cid, item: item, unread: 0, bySeq: new Map(), customer: null, handoff: null, slots: null,
      loaded: false, refreshTimer: 0, draft: '', noteDraft: '', cannedPick: ''
    };
    c.thread = node('div', 'thread');
    c.thread.setAttribute('data-cid', cid);
    c.thread.hidden = true;
    el.log.appendChild(c.thread);
    c.tab = node('button', 'tab');
    c.tab.type = 'button';
    c.tab.setAttribute('role', 'tab');
    c.tab.setAttribute('id', 'tab-' + cid);
    c.tab.setAttribute('aria-controls', 'conv');
    c.tab.setAttribute('data-cid', cid);
    c.tab.addEventListener('click', function () { activate(cid, true); });
    return c;
  }

  function ensureConv(item) {
    var cid = item.conversation_id;
    var c = st.convs.get(cid);
    if (!c) {
      c = newConv(item);
      st.convs.set(cid, c);
      st.order.push(cid);
    } else {
      c.item = Object.assign({}, c.item, item);
    }
    return c;
  }

  function dropConv(cid) {
    var c = st.convs.get(cid);
    if (!c) return;
    clearTimeout(c.refreshTimer);
    c.thread.remove();
    c.tab.remove();
    st.convs.delete(cid);
    st.order = st.order.filter(function (x) { return x !== cid; });
    if (st.active === cid) {
      st.active = null;
      if (st.order.length) activate(st.order[0], false);
    }
  }

  function onAssigned(f) {
    var cid = f.conversation_id;
    if (typeof cid !== 'string') return;
    var fresh = !st.convs.has(cid);
    var c = ensureConv(f);
    st.offers.delete(cid);
    renderOffers();
    renderTabs();
    renderQueuesButtons();
    var mine = st.acceptFocus.has(cid);
    st.acceptFocus.delete(cid);
    if (fresh) announce(t('assigned', { who: whoOf(c.item, cid) }));
    if (!c.loaded) requestTranscript(cid);
    if (mine || !st.active) activate(cid, mine);
    else if (st.active === cid) showActive();
    updateTitle();
  }

  function onReleased(f) {
    var cid = f.conversation_id;
    var c = st.convs.get(cid);
    if (!c) return;
    var who = whoOf(c.item, cid);
    var wasActive = st.active === cid;
    dropConv(cid);
    renderTabs();
    renderQueuesButtons();
    if (!st.active) showActive();
    announce(t('released', { who: who, reason: t('rel_' + f.reason) }));
    if (wasActive) {
      if (st.active) st.convs.get(st.active).tab.focus();
      else el.main.focus();
    }
    updateTitle();
  }

  function convFor(f) {
    return typeof f.conversation_id === 'string' ? st.convs.get(f.conversation_id) : null;
  }

  function onMessage(f) {
    var c = convFor(f);
    if (!c) return;
    var m = upsertMessage(c, f);
    if (!m || !m.fresh) return;
    var from = f.from;
    if (from === 'customer') {
      if (st.active !== c.id || document.hidden) { c.unread++; renderTabs(); updateTitle(); }
      announce(t('newMessage', { who: whoOf(c.item, c.id), text: clip(str(f.text), 160) }));
      scheduleRefresh(c);
    }
    if (st.active === c.id) scrollDown();
  }

  function onNote(f) {
    var c = convFor(f);
    if (!c) return;
    var n = Object.assign({}, f, { from: 'note' });
    upsertMessage(c, n);
    if (st.active === c.id) scrollDown();
  }

  function onTranscript(f) {
    var c = convFor(f);
    if (!c) return;
    c.customer = f.customer && typeof f.customer === 'object' ? f.customer : c.customer;
    c.handoff = f.handoff && typeof f.handoff === 'object' ? f.handoff : c.handoff;
    c.slots = f.slots && typeof f.slots === 'object' ? f.slots : c.slots;
    if (c.customer && typeof c.customer.name === 'string' && c.customer.name && !c.item.customer_name) c.item.customer_name = c.customer.name;
    (Array.isArray(f.messages) ? f.messages : []).forEach(function (m) { if (m && typeof m === 'object') upsertMessage(c, m); });
    c.loaded = true;
    if (st.active === c.id) { renderFacts(c); renderHead(c); scrollDown(); }
    renderTabs();
  }

  function scheduleRefresh(c) {
    clearTimeout(c.refreshTimer);
    c.refreshTimer = setTimeout(function () { if (st.convs.get(c.id) === c) requestTranscript(c.id); }, REFRESH_DELAY);
  }

  function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + '…' : s; }

  /* A stored message or note, deduplicated by seq; a later copy with more
   * detail (a transcript's intent, entities) fills in the NLU line.
   * Returns {el, fresh}. */
  function upsertMessage(c, f) {
    var seq = Number(f.seq);
    if (!(seq > 0)) return null;
    var from = f.from === 'customer' || f.from === 'agent' || f.from === 'system' || f.from === 'note' ? f.from : 'bot';
    var m = c.bySeq.get(seq);
    var fresh = !m;
    if (!m) {
      m = node('div', 'msg from-' + from);
      m.setAttribute('data-seq', String(seq));
      m.setAttribute('data-from', from);
      var head = node('div', 'msg-head');
      var label = from === 'note' ? t('noteLabelFull') : t(from === 'customer' ? 'whoCustomer' : from === 'agent' ? 'whoAgent'
        : from === 'system' ? 'whoSystem' : 'whoBot');
      head.appendChild(node('span', 'who', label));
      if ((from === 'agent' || from === 'note') && f.agent_id) head.appendChild(node('span', 'by', str(f.agent_id)));
      head.appendChild(node('span', 'time', fmtTime(f.created_at)));
      m.appendChild(head);
      m.appendChild(node('div', 'bubble', str(f.text)));
      place(c.thread, m, seq);
      c.bySeq.set(seq, m);
    }
    if (from === 'customer' && (f.intent || typeof f.confidence === 'number' || f.entities)) setNlu(m, f);
    return { el: m, fresh: fresh };
  }

  function setNlu(m, f) {
    var old = m.querySelector('.nlu');
    var line = node('div', 'nlu');
    if (f.intent) line.appendChild(node('span', 'intent', str(f.intent)));
    if (typeof f.confidence === 'number') line.appendChild(node('span', 'conf', t('confidence', { p: Math.round(f.confidence * 100) + '%' })));
    var ents = entitiesOf(f.entities);
    if (ents.length) {
      var e = node('span', 'ents');
      e.appendChild(node('span', 'k', t('entities') + ': '));
      ents.forEach(function (x, i) {
        if (i) e.appendChild(document.createTextNode(', '));
        e.appendChild(node('code', 'ent', x));
      });
      line.appendChild(e);
    }
    if (!line.childNodes.length) return;
    if (old) old.replaceWith(line); else m.appendChild(line);
  }

  function entitiesOf(v) {
    var out = [];
    if (Array.isArray(v)) {
      v.forEach(function (e) {
        if (e && typeof e === 'object') {
          var name = e.entity || e.type || e.name || e.label || '';
          var val = e.value !== undefined ? e.value : (e.text !== undefined ? e.text : e.normalized);
          out.push(name ? name + '=' + asText(val) : asText(val));
        } else if (e !== null && e !== undefined) {
          out.push(String(e));
        }
      });
    } else if (v && typeof v === 'object') {
      Object.keys(v).forEach(function (k) { out.push(k + '=' + asText(v[k])); });
    }
    return out;
  }

  function place(parent, n, key) {
    var kids = parent.children;
    for (var i = kids.length - 1; i >= 0; i--) {
      if (Number(kids[i].getAttribute('data-seq')) <= key) { parent.insertBefore(n, kids[i].nextSibling); return; }
    }
    parent.insertBefore(n, parent.firstChild);
  }

  function scrollDown() {
    el.log.scrollTop = el.log.scrollHeight;
    window.requestAnimationFrame(function () { el.log.scrollTop = el.log.scrollHeight; });
  }

  /* ---- tabs and the open conversation ---- */
  function renderTabs() {
    el.tabs.textContent = '';
    st.order.forEach(function (cid) {
      var c = st.convs.get(cid);
      var b = c.tab;
      b.textContent = '';
      var name = node('span', 'tab-name', whoOf(c.item, cid));
      b.appendChild(name);
      var vip = Number(c.item.vip_tier) || 0;
      if (vip > 0) b.appendChild(node('span', 'badge vip', t('vip', { n: vip })));
      if (c.item.skill) b.appendChild(node('span', 'tab-skill', str(c.item.skill)));
      if (c.unread > 0) {
        var u = node('span', 'unread', String(c.unread));
        u.setAttribute('aria-hidden', 'true');
        b.appendChild(u);
        b.appendChild(node('span', 'sr-only', ' ' + t('unread', { n: c.unread })));
      }
      var sel = st.active === cid;
      b.setAttribute('aria-selected', sel ? 'true' : 'false');
      b.tabIndex = sel || (!st.active && cid === st.order[0]) ? 0 : -1;
      el.tabs.appendChild(b);
    });
    el.tabsEmpty.hidden = st.order.length > 0;
    el.convsCount.textContent = String(st.order.length);
  }

  function saveDrafts() {
    var c = st.active && st.convs.get(st.active);
    if (!c) return;
    c.draft = el.input.value;
    c.noteDraft = el.noteInput.value;
    c.cannedPick = el.canned.value;
  }

  function activate(cid, focusInput) {
    if (!st.convs.has(cid)) return;
    if (st.active !== cid) saveDrafts();
    st.active = cid;
    var c = st.convs.get(cid);
    c.unread = 0;
    el.input.value = c.draft;
    el.noteInput.value = c.noteDraft;
    el.canned.value = c.cannedPick;
    el.transferTarget.value = '';
    hideConfirm(false);
    renderTabs();
    showActive();
    updateTitle();
    if (!c.loaded) requestTranscript(cid);
    if (focusInput === true) el.input.focus();
  }

  function showActive() {
    var c = st.active && st.convs.get(st.active);
    el.noConv.hidden = !!c;
    el.conv.hidden = !c;
    el.desk.classList.toggle('has-conv', !!c);
    st.convs.forEach(function (x) { x.thread.hidden = x !== c; });
    if (!c) { el.conv.removeAttribute('aria-labelledby'); return; }
    el.conv.setAttribute('aria-labelledby', 'tab-' + c.id);
    renderHead(c);
    renderFacts(c);
    renderTransferTargets();
    scrollDown();
  }

  function renderHead(c) {
    el.convTitle.textContent = '';
    el.convTitle.appendChild(node('span', null, whoOf(c.item, c.id)));
    var vip = Number(c.item.vip_tier) || (c.customer && Number(c.customer.vip_tier)) || 0;
    if (vip > 0) { el.convTitle.appendChild(document.createTextNode(' ')); el.convTitle.appendChild(node('span', 'badge vip', t('vip', { n: vip }))); }
    var parts = [];
    if (c.item.skill) parts.push(str(c.item.skill));
    if (c.item.language) parts.push(str(c.item.language));
    if (c.item.intent) parts.push(t('intent') + ': ' + str(c.item.intent));
    if (c.item.reason) parts.push(t('reason') + ': ' + str(c.item.reason));
    el.convSub.textContent = parts.join(' · ');
    el.convSub.title = c.id;
  }

  // A fact for people: times (*_at, ms) as date and time, waits as m:ss, no long decimals.
  function factText(k, v) {
    if (typeof v === 'number') {
      if (/_at$/.test(k) && v > 1e11) {
        var d = new Date(v);
        try { return d.toLocaleString(st.lang === 'zh' ? 'zh-CN' : 'en'); } catch (e) { return d.toISOString(); }
      }
      if (/_s$/.test(k)) return fmtDur(v);
      if (!Number.isInteger(v)) return String(Math.round(v * 100) / 100);
    }
    return asText(v);
  }

  function fillDl(dl, obj, skip) {
    dl.textContent = '';
    var keys = obj && typeof obj === 'object' ? Object.keys(obj) : [];
    if (skip) keys = keys.filter(function (k) { return skip.indexOf(k) < 0; });
    if (!keys.length) { dl.appendChild(node('dd', 'empty', t('none'))); return; }
    keys.forEach(function (k) {
      dl.appendChild(node('dt', null, k));
      dl.appendChild(node('dd', null, factText(k, obj[k])));
    });
  }

  function renderFacts(c) {
    var cust = Object.assign({}, c.customer || {});
    if (!('name' in cust) && c.item.customer_name) cust.name = c.item.customer_name;
    if (!('vip_tier' in cust) && c.item.vip_tier !== undefined) cust.vip_tier = c.item.vip_tier;
    if (!('language' in cust) && c.item.language) cust.language = c.item.language;
    fillDl(el.factsCustomer, cust);
    var h = c.handoff ? Object.assign({}, c.handoff) : {};
    ['skill', 'reason', 'intent', 'summary', 'priority'].forEach(function (k) {
      if (!(k in h) && c.item[k] !== undefined && c.item[k] !== '') h[k] = c.item[k];
    });
    fillDl(el.factsHandoff, h, ['conversation_id', 'customer_name', 'vip_tier', 'language']);
    fillDl(el.factsSlots, c.slots);
  }

  function cycle(delta) {
    if (!st.order.length) return;
    var i = st.order.indexOf(st.active);
    var next = st.order[(i + delta + st.order.length) % st.order.length];
    activate(next, false);
    st.convs.get(next).tab.focus();
  }

  /* ---- composing ---- */
  function sendMessage(e) {
    if (e) e.preventDefault();
    var c = st.active && st.convs.get(st.active);
    var text = el.input.value;
    if (!c || !text.trim()) return;
    if (!send({ type: 'message', conversation_id: c.id, text: text }, { kind: 'message', cid: c.id, text: text })) {
      showError(t('connOffline', { s: st.retryIn }));
      return;
    }
    el.input.value = '';
    c.draft = '';
    el.input.focus();
  }

  function sendNote(e) {
    if (e) e.preventDefault();
    var c = st.active && st.convs.get(st.active);
    var text = el.noteInput.value;
    if (!c || !text.trim()) return;
    if (!send({ type: 'note', conversation_id: c.id, text: text }, { kind: 'note', cid: c.id, text: text })) {
      showError(t('connOffline', { s: st.retryIn }));
      return;
    }
    el.noteInput.value = '';
    c.noteDraft = '';
    el.noteInput.focus();
  }

  function enterSends(textarea, form) {
    textarea.addEventListener('compositionstart', function () { st.composing = true; });
    textarea.addEventListener('compositionend', function () { st.composing = false; });
    textarea.addEventListener('keydown', function (e) {
      if (e.key !== 'Enter' || e.shiftKey || e.altKey || e.ctrlKey || e.metaKey) return;
      // Enter that picks an IME candidate (Chinese, Japanese...) must not send.
      if (e.isComposing || st.composing || e.keyCode === 229) return;
      e.preventDefault();
      if (typeof form.requestSubmit === 'function') form.requestSubmit();
      else form.dispatchEvent(new Event('submit', { cancelable: true }));
    });
  }

  function cannedTitle(c) {
    if (typeof c.title === 'string') return c.title;
    if (c.title && typeof c.title === 'object') return str(c.title[st.lang] || c.title.en || c.title.zh);
    return str(c.id);
  }

  function cannedText(c, lang) {
    if (typeof c.text === 'string') return c.text;
    var tx = c.text && typeof c.text === 'object' ? c.text : {};
    if (typeof tx[lang] === 'string' && tx[lang]) return tx[lang];
    if (typeof tx.en === 'string' && tx.en) return tx.en;
    var k = Object.keys(tx).filter(function (x) { return typeof tx[x] === 'string'; })[0];
    return k ? tx[k] : '';
  }

  function renderCanned() {
    var keep = el.canned.value;
    el.canned.textContent = '';
    var o = node('option', null, t('cannedPick'));
    o.value = '';
    el.canned.appendChild(o);
    st.canned.forEach(function (c, i) {
      var opt = node('option', null, cannedTitle(c));
      opt.value = String(c.id !== undefined ? c.id : i);
      el.canned.appendChild(opt);
    });
    el.canned.value = keep;
    if (el.canned.value !== keep) el.canned.value = '';
    el.cannedInsert.disabled = st.canned.length === 0;
    el.canned.disabled = st.canned.length === 0;
  }

  function insertCanned() {
    var id = el.canned.value;
    if (!id) { el.canned.focus(); return; }
    var c = null;
    st.canned.forEach(function (x, i) { if (String(x.id !== undefined ? x.id : i) === id) c = x; });
    var conv = st.active && st.convs.get(st.active);
    if (!c || !conv) return;
    var lang = str(conv.item.language) || (conv.customer && str(conv.customer.language)) || st.lang;
    var text = cannedText(c, lang);
    var inp = el.input;
    var s = inp.selectionStart, e = inp.selectionEnd;
    if (typeof s === 'number' && typeof e === 'number' && document.activeElement === inp) {
      inp.value = inp.value.slice(0, s) + text + inp.value.slice(e);
      inp.selectionStart = inp.selectionEnd = s + text.length;
    } else {
      var v = inp.value;
      inp.value = v && !/\s$/.test(v) ? v + ' ' + text : v + text;
      inp.selectionStart = inp.selectionEnd = inp.value.length;
    }
    el.canned.value = '';
    inp.focus();
  }

  function renderTransferTargets() {
    var keep = el.transferTarget.value;
    el.transferTarget.textContent = '';
    var none = node('option', null, t('transferPick'));
    none.value = '';
    el.transferTarget.appendChild(none);
    var g1 = document.createElement('optgroup');
    g1.label = t('skillsGroup');
    st.skills.forEach(function (s) {
      var o = node('option', null, t('skillOpt', { s: s }));
      o.value = 'skill:' + s;
      g1.appendChild(o);
    });
    var g2 = document.createElement('optgroup');
    g2.label = t('agentsGroup');
    st.agents.forEach(function (a) {
      if (st.agent && a.id === st.agent.id) return;
      var label = (str(a.name) || a.id) + ' (' + a.id + ')' + (a.status ? ' — ' + t(str(a.status)) : '') +
        (Array.isArray(a.skills) && a.skills.length ? ' · ' + a.skills.join(', ') : '');
      var o = node('option', null, label);
      o.value = 'agent:' + a.id;
      g2.appendChild(o);
    });
    if (g1.children.length) el.transferTarget.appendChild(g1);
    if (g2.children.length) el.transferTarget.appendChild(g2);
    el.transferTarget.value = keep;
    if (el.transferTarget.value !== keep) el.transferTarget.value = '';
    el.transfer.disabled = el.transferTarget.options.length < 2;
  }

  function transfer() {
    var c = st.active && st.convs.get(st.active);
    var v = el.transferTarget.value;
    if (!c) return;
    if (!v) { el.transferTarget.focus(); return; }
    var f = { type: 'transfer', conversation_id: c.id };
    if (v.indexOf('skill:') === 0) f.skill = v.slice(6); else f.agent_id = v.slice(6);
    el.transfer.disabled = true;
    if (!send(f, { kind: 'transfer', cid: c.id })) el.transfer.disabled = false;
  }

  function handback() {
    var c = st.active && st.convs.get(st.active);
    if (!c) return;
    el.handback.disabled = true;
    if (!send({ type: 'handback', conversation_id: c.id }, { kind: 'handback', cid: c.id })) el.handback.disabled = false;
  }

  function showConfirm() {
    if (!st.active) return;
    el.closeConfirm.hidden = false;
    el.closeYes.focus();
  }

  function hideConfirm(refocus) {
    if (el.closeConfirm.hidden) return;
    el.closeConfirm.hidden = true;
    if (refocus) el.close.focus();
  }

  function closeConv() {
    var c = st.active && st.convs.get(st.active);
    el.closeConfirm.hidden = true;
    if (!c) return;
    el.close.disabled = true;
    if (!send({ type: 'close', conversation_id: c.id }, { kind: 'close', cid: c.id })) el.close.disabled = false;
  }

  /* ---- answers ---- */
  function onOk(f) {
    var p = f.ref && st.pending.get(f.ref);
    if (!p) return;
    st.pending.delete(f.ref);
    if (p.kind === 'reject') {
      // only the offer refused: the router may already have offered it again (the only agent)
      var o = st.offers.get(p.cid);
      if (o && o.pending) { st.offers.delete(p.cid); renderOffers(); updateTitle(); }
    }
    if (p.kind === 'transfer' || p.kind === 'handback' || p.kind === 'close') enableActions();
  }

  function onError(f) {
    var p = f.ref ? st.pending.get(f.ref) : null;
    if (p) st.pending.delete(f.ref);
    failPending(p, f);
    showError(t('errorCode', { code: str(f.code) || 'error', message: str(f.message) }));
    announce(str(f.message) || str(f.code), true);
  }

  // A frame that will not succeed: undo what the page did when it sent it.
  function failPending(p, f) {
    if (!p) return;
    var code = f && f.code;
    if (p.kind === 'accept') {
      st.acceptFocus.delete(p.cid);
      var o = st.offers.get(p.cid);
      if (o) {
        o.pending = false;
        if (code === 'state' || code === 'not_found' || code === 'closed') st.offers.delete(p.cid);
        renderOffers();
      }
      renderQueuesButtons();
    } else if (p.kind === 'reject') {
      var r = st.offers.get(p.cid);
      if (r) { r.pending = false; renderOffers(); }
    } else if (p.kind === 'message' || p.kind === 'note') {
      // give the text back, unless something new was typed meanwhile
      var c = st.convs.get(p.cid);
      var box = p.kind === 'message' ? el.input : el.noteInput;
      if (c && st.active === p.cid && !box.value) box.value = p.text;
      else if (c && st.active !== p.cid) { if (p.kind === 'message' && !c.draft) c.draft = p.text; if (p.kind === 'note' && !c.noteDraft) c.noteDraft = p.text; }
    } else if (p.kind === 'transfer' || p.kind === 'handback' || p.kind === 'close') {
      enableActions();
    } else if (p.kind === 'status') {
      setStatusSelect(st.agent && st.agent.status);  // the select shows what the server has
    }
  }

  function enableActions() {
    el.transfer.disabled = el.transferTarget.options.length < 2;
    el.handback.disabled = false;
    el.close.disabled = false;
  }

  /* ---- status ---- */
  function setStatusSelect(s) {
    if (s === 'online' || s === 'away' || s === 'offline') {
      el.statusSelect.value = s;
      el.statusSelect.setAttribute('data-status', s);
      if (st.agent) st.agent.status = s;
    }
  }

  /* ---- ticking ---- */
  function tick() {
    Array.prototype.forEach.call(el.queues.querySelectorAll('.wait'), function (w) {
      if (!w._wait) return;
      w.textContent = t('waited', { t: fmtDur(w._wait.base + (Date.now() - w._wait.at) / 1000) });
    });
    Array.prototype.forEach.call(el.offerList.querySelectorAll('.countdown'), tickOffer);
  }

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
    renderCanned();
    renderTransferTargets();
    if (st.queues) renderQueues();
    renderOffers();
    renderTabs();
    showActive();
    st.convs.forEach(function (c) {
      c.bySeq.forEach(function (m) {
        var from = m.getAttribute('data-from');
        m.querySelector('.who').textContent = from === 'note' ? t('noteLabelFull') : t(from === 'customer' ? 'whoCustomer'
          : from === 'agent' ? 'whoAgent' : from === 'system' ? 'whoSystem' : 'whoBot');
      });
    });
    updateTitle();
  }

  /* ---- keyboard ---- */
  function onKey(e) {
    if (e.key === 'Escape' && !el.closeConfirm.hidden) { e.preventDefault(); hideConfirm(true); return; }
    if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey || el.desk.hidden) return;
    var first = st.offers.keys().next();
    switch (e.code) {
    case 'KeyA': if (!first.done) { e.preventDefault(); accept(first.value); } return;
    case 'KeyR': if (!first.done) { e.preventDefault(); reject(first.value); } return;
    case 'ArrowDown': e.preventDefault(); cycle(1); return;
    case 'ArrowUp': e.preventDefault(); cycle(-1); return;
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

  function onTabsKey(e) {
    if (e.target.getAttribute('role') !== 'tab') return;
    var i = st.order.indexOf(e.target.getAttribute('data-cid'));
    var j = -1;
    if (e.key === 'ArrowDown' || e.key === 'ArrowRight') j = (i + 1) % st.order.length;
    else if (e.key === 'ArrowUp' || e.key === 'ArrowLeft') j = (i - 1 + st.order.length) % st.order.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = st.order.length - 1;
    if (j < 0) return;
    e.preventDefault();
    activate(st.order[j], false);
    st.convs.get(st.order[j]).tab.focus();
  }

  /* ---- start ---- */
  function init() {
    ['announce', 'errors', 'login', 'desk', 'whoami', 'conn', 'tabs', 'queues', 'log', 'conv', 'composer',
     'canned', 'input', 'transfer', 'handback', 'close'].forEach(function (id) { el[id] = document.getElementById(id); });
    el.announceUrgent = document.getElementById('announce-urgent');
    el.connText = document.getElementById('conn-text');
    el.loginForm = document.getElementById('login-form');
    el.loginError = document.getElementById('login-error');
    el.loginBtn = document.getElementById('login-btn');
    el.agentId = document.getElementById('agent-id');
    el.password = document.getElementById('password');
    el.agentName = document.getElementById('agent-name');
    el.statusSelect = document.getElementById('status-select');
    el.logout = document.getElementById('logout');
    el.offers = document.getElementById('offers');
    el.offerList = document.getElementById('offer-list');
    el.tabsEmpty = document.getElementById('tabs-empty');
    el.convsCount = document.getElementById('convs-count');
    el.queuesTitle = document.getElementById('queues-title');
    el.queuesTitle.tabIndex = -1;
    el.keysList = document.getElementById('keys-list');
    el.main = document.getElementById('main');
    el.noConv = document.getElementById('no-conv');
    el.convTitle = document.getElementById('conv-title');
    el.convSub = document.getElementById('conv-sub');
    el.transferTarget = document.getElementById('transfer-target');
    el.closeConfirm = document.getElementById('close-confirm');
    el.closeYes = document.getElementById('close-yes');
    el.closeNo = document.getElementById('close-no');
    el.factsCustomer = document.getElementById('facts-customer');
    el.factsHandoff = document.getElementById('facts-handoff');
    el.factsSlots = document.getElementById('facts-slots');
    el.cannedInsert = document.getElementById('canned-insert');
    el.noteForm = document.getElementById('note-form');
    el.noteInput = document.getElementById('note-input');

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
    el.composer.addEventListener('submit', sendMessage);
    el.noteForm.addEventListener('submit', sendNote);
    enterSends(el.input, el.composer);
    enterSends(el.noteInput, el.noteForm);
    el.cannedInsert.addEventListener('click', insertCanned);
    el.canned.addEventListener('keydown', function (e) {
      if (e.key === 'Enter') { e.preventDefault(); insertCanned(); }
    });
    el.transfer.addEventListener('click', transfer);
    el.handback.addEventListener('click', handback);
    el.close.addEventListener('click', showConfirm);
    el.closeYes.addEventListener('click', closeConv);
    el.closeNo.addEventListener('click', function () { hideConfirm(true); });
    el.tabs.addEventListener('keydown', onTabsKey);
    Array.prototype.forEach.call(document.querySelectorAll('.lang-btn'), function (b) {
      b.addEventListener('click', function () { applyLang(b.getAttribute('data-lang')); });
    });
    document.addEventListener('keydown', onKey);
    document.addEventListener('visibilitychange', function () {
      if (document.hidden) return;
      var c = st.active && st.convs.get(st.active);
      if (c && c.unread) { c.unread = 0; renderTabs(); updateTitle(); }
      reconnectNow();
    });
    window.addEventListener('online', reconnectNow);
    setInterval(tick, 1000);
    renderTabs();
    showActive();

    // Signed in already (the cookie)?  Then straight to the desk.
    api('GET', '/v1/agents/me').then(function (r) {
      if (r.status === 200 && r.body && r.body.agent) startDesk(r.body.agent);
      else showLogin();
    }, function () { showLogin(t('netError')); });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
