/* chat.js — the kefu customer chat widget (GET /), over the WebSocket GET /v1/ws.
 *
 * Protocol: README.md, "Customer WebSocket".  What this file adds on top:
 *  - every text reaches the page through textContent, never as HTML;
 *  - the conversation id, the last seq seen and a copy of the transcript live in
 *    localStorage: a reload shows the transcript at once and resumes after it
 *    (hello with resume_after_seq), and every message is deduplicated by seq;
 *  - outgoing messages carry a client_msg_id and stay in an outbox (also in
 *    localStorage) until acked; after a reconnect the unacked ones are sent again
 *    with the same id, and the server stores and answers each only once;
 *  - reconnects back off exponentially (0.5 s doubling to 30 s, with jitter);
 *  - the typing indicator is exact: each message is followed by a ping, and the
 *    server answers a ping only after every answer to the frames before it;
 *  - while the customer waits for a person, a banner above the input shows the
 *    `queue` frames' position and wait (see showQueue for when it goes away).
 */
(function () {
  'use strict';

  var KEY = {
    cid: 'kefu.chat.cid', seq: 'kefu.chat.seq', lang: 'kefu.chat.lang',
    outbox: 'kefu.chat.outbox', transcript: 'kefu.chat.transcript', rated: 'kefu.chat.rated',
    queue: 'kefu.chat.queue'
  };
  var MAX_CACHED = 300;          // transcript messages kept in localStorage
  var BACKOFF_MIN = 500, BACKOFF_MAX = 30000;
  var HELLO_TIMEOUT = 10000;     // no welcome by then: drop the socket and retry
  var KEEPALIVE = 20000;         // app-level ping while idle...
  var PONG_TIMEOUT = 10000;      // ...and the socket counts as dead without an answer
  var TYPING_IDLE = 3000;
  var QUEUE_NOTICE_GRACE = 2000; // ms: a system notice this soon after a queue frame belongs to it
  var CMID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

  var TEXT = {
    en: {
      title: 'Bank support', end: 'End chat', typing: 'The assistant is typing…',
      rateTitle: 'How was this conversation?', rateLow: '1 = poor', rateHigh: '5 = excellent',
      rateStar: 'Rate {n} out of 5', newChat: 'Start a new conversation',
      inputLabel: 'Your message', placeholder: 'Type a message…', send: 'Send',
      you: 'You', bot: 'Assistant', agent: 'Agent', system: 'Notice',
      online: 'Connected', connecting: 'Connecting…', offline: 'Offline — reconnecting…',
      offlineIn: 'Connection lost — retrying in {s} s', sending: 'Sending…', failed: 'Not sent',
      retry: 'Retry', handoff: 'Connecting you with a colleague ({skill})…',
      endedClosed: 'This conversation has ended.', endedExpired: 'This conversation ended after a period of inactivity.',
      rated: 'Thank you! You rated this conversation {n} out of 5.', newConv: 'New conversation',
      conversation: 'Conversation', langGroup: 'Language', quick: 'Suggested replies',
      queuePos: 'You are number {n} in the queue', queueAhead: 'You are number {n} in the queue',
      queueEta: ' · about {m} min'
    },
    zh: {
      title: '银行在线客服', end: '结束对话', typing: '客服正在输入…',
      rateTitle: '您对本次服务满意吗？', rateLow: '1 = 很差', rateHigh: '5 = 很好',
      rateStar: '评 {n} 分（满分 5 分）', newChat: '开始新的对话',
      inputLabel: '您的消息', placeholder: '请输入消息…', send: '发送',
      you: '您', bot: '智能客服', agent: '人工客服', system: '系统提示',
      online: '已连接', connecting: '正在连接…', offline: '网络已断开，正在重连…',
      offlineIn: '连接已断开，{s} 秒后重试', sending: '发送中…', failed: '未发送',
      retry: '重试', handoff: '正在为您转接人工客服（{skill}）…',
      endedClosed: '本次对话已结束。', endedExpired: '由于长时间未操作，本次对话已结束。',
      rated: '谢谢！您为本次对话评了 {n} 分（满分 5 分）。', newConv: '新的对话',
      conversation: '对话记录', langGroup: '语言', quick: '快捷回复',
      queuePos: '您排在第 {n} 位', queueAhead: '您排在第 {n} 位（前面还有 {a} 位）',
      queueEta: ' · 约 {m} 分钟'
    }
  };

  /* ---- storage (the widget still works when localStorage is off) ---- */
  function load(key, dflt) {
    try {
      var v = window.localStorage.getItem(key);
      return v === null ? dflt : JSON.parse(v);
    } catch (e) { return dflt; }
  }
  function save(key, value) {
    try {
      if (value === null || value === undefined) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* full or disabled: the server still has everything */ }
  }

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
  }

  /* ---- state ---- */
  var st = {
    ws: null,
    welcomed: false,
    cid: null,
    lastSeq: 0,
    lang: 'en',
    outbox: [],            // [{cmid, text, display}] until acked
    transcript: [],        // cached messages, seq order: {seq, from, text, at, cmid?}
    attempt: 0,
    reconnectTimer: 0,
    helloTimer: 0,
    keepaliveTimer: 0,
    pongTimer: 0,
    pings: [],             // purposes of the pings without a pong yet, in order
    ended: false,
    ratedCsat: 0,          // the rating given to this conversation, 0 before
    restoring: false,
    typingOn: false,
    typingTimer: 0,
    composing: false,
    status: 'connecting',
    retryIn: 0,
    queue: null            // waiting for a person: {position, eta_s, seq, at}, else null
  };

  var el = {};
  var group = null;        // the current conversation's container in the log
  var bySeq = new Map();   // seq -> element, current conversation
  var byCmid = new Map();  // client_msg_id -> element, current conversation
  var quickBox = null;     // the visible quick-reply buttons, if any

  function t(key, vars) {
    var s = (TEXT[st.lang] || TEXT.en)[key] || TEXT.en[key] || key;
    if (vars) Object.keys(vars).forEach(function (k) { s = s.split('{' + k + '}').join(String(vars[k])); });
    return s;
  }

  function node(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  /* ---- transcript rendering ---- */

  // Every child of a conversation group has a numeric position key: a message's
  // seq, a note's (last seq when it was shown) + 0.5, a message not yet acked
  // +Infinity.  Inserting by key keeps seq order whatever order frames arrive in.
  function keyOf(n) {
    var k = n.getAttribute('data-key');
    return k === null ? Infinity : Number(k);
  }

  function place(n, key) {
    if (key === Infinity) n.removeAttribute('data-key');
    else n.setAttribute('data-key', String(key));
    var kids = group.children;
    for (var i = kids.length - 1; i >= 0; i--) {
      if (kids[i] !== n && keyOf(kids[i]) <= key) {
        group.insertBefore(n, kids[i].nextSibling);
        return;
      }
    }
    group.insertBefore(n, group.firstChild);
  }

  function newGroup(withDivider) {
    if (withDivider && group && group.children.length) el.log.appendChild(node('div', 'divider', t('newConv')));
    group = node('div', 'conv');
    el.log.appendChild(group);
    bySeq = new Map();
    byCmid = new Map();
    clearQuick();
  }

  function fmtTime(at) {
    var d = typeof at === 'number' ? new Date(at) : (at ? new Date(at) : null);
    if (!d || isNaN(d.getTime())) return '';
    try {
      return d.toLocaleTimeString(st.lang === 'zh' ? 'zh-CN' : 'en', { hour: '2-digit', minute: '2-digit' });
    } catch (e) { return ''; }
  }

  function whoLabel(from) {
    return t(from === 'customer' ? 'you' : from === 'agent' ? 'agent' : from === 'system' ? 'system' : 'bot');
  }

  function bubble(from, text, at) {
    var kind = from === 'customer' || from === 'agent' || from === 'system' ? from : 'bot';
    var m = node('div', 'msg from-' + kind);
    m.setAttribute('data-from', kind);
    var who = node('span', kind === 'customer' ? 'who sr-only' : 'who', whoLabel(kind));
    var b = node('div', 'bubble', text);
    var meta = node('span', 'meta', fmtTime(at));
    m.appendChild(who);
    m.appendChild(b);
    m.appendChild(meta);
    return m;
  }

  function setSeq(m, seq) {
    m.setAttribute('data-seq', String(seq));
    bySeq.set(seq, m);
    if (seq > st.lastSeq) {
      st.lastSeq = seq;
      if (!st.restoring) save(KEY.seq, st.lastSeq);
    }
  }

  function cache(entry) {
    var tr = st.transcript;
    for (var i = tr.length - 1; i >= 0 && tr[i].seq >= entry.seq; i--) if (tr[i].seq === entry.seq) return;
    tr.push(entry);
    tr.sort(function (a, b) { return a.seq - b.seq; });
    if (tr.length > MAX_CACHED) tr.splice(0, tr.length - MAX_CACHED);
    if (!st.restoring) save(KEY.transcript, tr);
  }

  // A customer message's display text: a quick reply shows its title, not its payload.
  function displayFor(cmid, text) {
    if (cmid) {
      for (var i = 0; i < st.transcript.length; i++) if (st.transcript[i].cmid === cmid) return st.transcript[i].text;
      for (var j = 0; j < st.outbox.length; j++) if (st.outbox[j].cmid === cmid) return st.outbox[j].display;
    }
    return text;
  }

  /* A stored message (live, replayed or from the cache).  Returns its element. */
  function showMessage(f, live) {
    var seq = Number(f.seq);
    if (!(seq > 0)) return null;
    if (bySeq.has(seq)) return bySeq.get(seq);                     // seen: dedupe by seq
    var from = f.from || 'bot';
    var cmid = typeof f.client_msg_id === 'string' ? f.client_msg_id : (f.cmid || null);
    var m;
    if (from === 'customer' && cmid && byCmid.has(cmid)) {
      m = byCmid.get(cmid);                                         // our own, now stored
      markSent(m);
      dropFromOutbox(cmid);
    } else {
      var text = from === 'customer' ? displayFor(cmid, f.text) : f.text;
      m = bubble(from, text == null ? '' : text, f.created_at || f.at);
      if (cmid) { m.setAttribute('data-cmid', cmid); byCmid.set(cmid, m); }
    }
    setSeq(m, seq);
    place(m, seq);
    var qr = Array.isArray(f.quick_replies) && f.quick_replies.length ? f.quick_replies : (Array.isArray(f.qr) ? f.qr : undefined);
    cache({ seq: seq, from: from, text: m.querySelector('.bubble').textContent, at: f.created_at || f.at || Date.now(),
            cmid: cmid || undefined, qr: from === 'customer' ? undefined : qr });
    if (live && from !== 'customer') {
      if (Array.isArray(f.quick_replies) && f.quick_replies.length) showQuick(m, f.quick_replies);
      else clearQuick();
      queueAfterMessage(from, seq);
    }
    return m;
  }

  function showPending(entry) {
    var m = bubble('customer', entry.display, Date.now());
    m.classList.add('pending');
    m.setAttribute('data-cmid', entry.cmid);
    m.querySelector('.meta').textContent = t('sending');
    byCmid.set(entry.cmid, m);
    place(m, Infinity);
    return m;
  }

  function markSent(m) {
    m.classList.remove('pending', 'failed');
    var meta = m.querySelector('.meta');
    meta.textContent = fmtTime(Date.now());
  }

  function markFailed(m, why, entry) {
    m.classList.remove('pending');
    m.classList.add('failed');
    place(m, st.lastSeq + 0.5);                   // stays where it is, not below later messages
    var meta = m.querySelector('.meta');
    meta.textContent = t('failed') + (why ? ' — ' + why : '');
    if (entry) {
      var again = node('button', 'retry', t('retry'));
      again.type = 'button';
      again.addEventListener('click', function () {
        m.remove();
        byCmid.delete(entry.cmid);
        queue(entry);
      });
      meta.appendChild(document.createTextNode(' '));
      meta.appendChild(again);
    }
  }

  function note(text, warn) {
    var n = node('p', warn ? 'note warn' : 'note', text);
    place(n, st.lastSeq + 0.5);
    scrollDown();
    return n;
  }

  function showQuick(m, replies) {
    clearQuick();
    var box = node('div', 'quick');
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', t('quick'));
    replies.forEach(function (q) {
      if (!q || typeof q.payload !== 'string' || !q.payload) return;
      var title = typeof q.title === 'string' && q.title ? q.title : q.payload;
      var b = node('button', null, title);
      b.type = 'button';
      b.addEventListener('click', function () {
        clearQuick();
        send(q.payload, title);
        el.input.focus();
      });
      box.appendChild(b);
    });
    if (!box.children.length) return;
    m.appendChild(box);
    quickBox = box;
  }

  function clearQuick() {
    if (quickBox) quickBox.remove();
    quickBox = null;
  }

  function scrollDown() {
    el.log.scrollTop = el.log.scrollHeight;
    // again once layout settled (the rating panel or the typing line may have just appeared)
    window.requestAnimationFrame(function () { el.log.scrollTop = el.log.scrollHeight; });
  }

  /* ---- queue banner ---- */

  /* The server pushes {"type":"queue","position","eta_s"} when the customer is
   * queued for a person and whenever the position changes, but nothing when
   * the wait is over, so the banner goes on the first sign that it is:
   *  - a message from an agent, or from the bot (handed back), newer than the
   *    last queue frame (an older one is a replay of what came before);
   *  - a system notice (agent joined, hand-back, close), except one right
   *    after a queue frame: a transfer publishes the new position just before
   *    its notice, and a later queue frame shows the banner again anyway;
   *  - the end of the conversation.
   * The live region is never display:none (screen readers do not announce a
   * region as it appears); it collapses to nothing when empty. */
  function showQueue(f) {
    if (typeof f.conversation_id === 'string' && st.cid && f.conversation_id !== st.cid) return;
    var pos = Number(f.position);
    if (!(pos >= 1) || Math.floor(pos) !== pos) return;
    var eta = Number(f.eta_s);
    st.queue = { position: pos, eta_s: eta >= 0 ? eta : null, seq: st.lastSeq, at: Date.now() };
    // kept for a reload: the server sends the position only when it changes
    save(KEY.queue, { cid: st.cid, position: pos, eta_s: st.queue.eta_s, seq: st.lastSeq });
    renderQueue();
  }

  function hideQueue() {
    if (!st.queue) return;
    st.queue = null;
    save(KEY.queue, null);
    renderQueue();
  }

  function queueAfterMessage(from, seq) {
    var q = st.queue;
    if (!q || !(seq > q.seq)) return;
    if (from === 'agent' || from === 'bot' || (from === 'system' && Date.now() - q.at > QUEUE_NOTICE_GRACE)) hideQueue();
  }

  function queueText(q) {
    var s = t(q.position > 1 ? 'queueAhead' : 'queuePos', { n: q.position, a: q.position - 1 });
    if (q.eta_s > 0) s += t('queueEta', { m: Math.max(1, Math.ceil(q.eta_s / 60)) });
    return s;
  }

  function renderQueue() {
    var q = st.queue;
    el.queue.textContent = q ? queueText(q) : '';
    el.queue.setAttribute('data-position', q ? String(q.position) : '');
    el.queue.classList.toggle('on', !!q);
  }

  /* ---- outbox ---- */
  function saveOutbox() { save(KEY.outbox, st.outbox); }

  function dropFromOutbox(cmid) {
    var n = st.outbox.length;
    st.outbox = st.outbox.filter(function (e) { return e.cmid !== cmid; });
    if (st.outbox.length !== n) saveOutbox();
  }

  function queue(entry) {
    st.outbox.push(entry);
    saveOutbox();
    showPending(entry);
    scrollDown();
    if (st.welcomed) transmit(entry);
  }

  function transmit(entry) {
    frame({ type: 'message', text: entry.text, client_msg_id: entry.cmid });
    ping('reply');
  }

  function send(text, display) {
    text = String(text);
    if (!text.trim()) return;
    typing(false);
    if (st.ended) startNew();
    var cmid = newId();
    if (!CMID_RE.test(cmid)) cmid = String(Date.now()) + '-' + Math.random().toString(16).slice(2);
    queue({ cmid: cmid, text: text, display: display || text });
  }

  /* ---- socket ---- */
  function frame(obj) {
    if (!st.ws || st.ws.readyState !== 1) return false;
    try { st.ws.send(JSON.stringify(obj)); return true; } catch (e) { return false; }
  }

  function ping(purpose) {
    if (frame({ type: 'ping' })) {
      st.pings.push(purpose);
      if (!st.pongTimer) st.pongTimer = setTimeout(dead, PONG_TIMEOUT + (purpose === 'reply' ? 20000 : 0));
      updateTyping();
    }
  }

  function dead() {
    st.pongTimer = 0;
    if (st.ws) try { st.ws.close(); } catch (e) { /* ignore */ }
    lost(st.ws);
  }

  function armKeepalive() {
    clearTimeout(st.keepaliveTimer);
    st.keepaliveTimer = setTimeout(function () {
      if (st.welcomed) ping('keepalive');
      armKeepalive();
    }, KEEPALIVE);
  }

  function connect() {
    clearTimeout(st.reconnectTimer);
    st.reconnectTimer = 0;
    if (st.ws) return;
    setStatus('connecting');
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/v1/ws';
    var ws;
    try { ws = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    st.ws = ws;
    st.welcomed = false;
    st.pings = [];
    clearTimeout(st.pongTimer);
    st.pongTimer = 0;
    clearTimeout(st.helloTimer);
    st.helloTimer = setTimeout(function () { if (st.ws === ws && !st.welcomed) { try { ws.close(); } catch (e) { /* */ } lost(ws); } }, HELLO_TIMEOUT);
    ws.onopen = function () { if (st.ws === ws) hello(); };
    ws.onmessage = function (ev) {
      if (st.ws !== ws) return;
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f === 'object') handle(f);
    };
    ws.onclose = function () { lost(ws); };
    ws.onerror = function () { /* a close follows */ };
  }

  function hello() {
    var h = { type: 'hello' };
    if (st.cid) {
      h.conversation_id = st.cid;
      h.resume_after_seq = st.lastSeq;
    } else {
      h.profile = { language: st.lang };
    }
    frame(h);
  }

  function lost(ws) {
    if (!ws || st.ws !== ws) return;
    st.ws = null;
    st.welcomed = false;
    st.pings = [];
    clearTimeout(st.helloTimer);
    clearTimeout(st.pongTimer);
    st.pongTimer = 0;
    clearTimeout(st.keepaliveTimer);
    st.typingOn = false;
    updateTyping();
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (st.reconnectTimer) return;
    var delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, st.attempt));
    delay = Math.round(delay * (0.75 + Math.random() * 0.5));
    st.attempt = Math.min(st.attempt + 1, 16);
    st.retryIn = Math.ceil(delay / 1000);
    setStatus('offline');
    st.reconnectTimer = setTimeout(function () { st.reconnectTimer = 0; connect(); }, delay);
  }

  function reconnectNow() {
    if (st.ws) return;
    st.attempt = 0;
    clearTimeout(st.reconnectTimer);
    st.reconnectTimer = 0;
    connect();
  }

  /* Forget the conversation (it ended, or the server no longer knows it) and
   * open a new one; messages not yet acked go to the new one. */
  function startNew() {
    st.cid = null;
    st.lastSeq = 0;
    st.transcript = [];
    st.ended = false;
    save(KEY.cid, null);
    save(KEY.seq, null);
    save(KEY.transcript, null);
    st.ratedCsat = 0;
    el.rate.hidden = true;
    resetStars();
    hideQueue();
    movePendingToNewGroup();
    var ws = st.ws;
    st.ws = null;
    st.welcomed = false;
    if (ws) try { ws.close(1000); } catch (e) { /* ignore */ }
    st.attempt = 0;
    connect();
  }

  function handle(f) {
    switch (f.type) {
    case 'welcome': return onWelcome(f);
    case 'message': showMessage(f, true); scrollDown(); return;
    case 'ack': return onAck(f);
    case 'pong': return onPong();
    case 'handoff': note(t('handoff', { skill: f.skill || '' })); return;
    case 'queue': return showQueue(f);
    case 'ended': return onEnded(f);
    case 'rated': return onRated(f);
    case 'error': return onError(f);
    default: return;
    }
  }

  function onWelcome(f) {
    clearTimeout(st.helloTimer);
    if (typeof f.conversation_id === 'string') {
      if (st.cid && st.cid !== f.conversation_id) startNewLocal();
      st.cid = f.conversation_id;
      save(KEY.cid, st.cid);
    }
    st.welcomed = true;
    st.attempt = 0;
    var r = load(KEY.rated, null);
    st.ratedCsat = r && r.cid === st.cid ? r.csat : 0;
    setStatus('online');
    armKeepalive();
    // Unacked messages again, same ids: the server dedupes those it has.
    st.outbox.forEach(transmit);
    el.end.disabled = false;
  }

  function startNewLocal() {
    st.lastSeq = 0;
    st.transcript = [];
    st.ended = false;
    st.ratedCsat = 0;
    save(KEY.transcript, null);
    save(KEY.seq, null);
    hideQueue();
    movePendingToNewGroup();
  }

  function movePendingToNewGroup() {
    st.outbox.forEach(function (e) { var m = byCmid.get(e.cmid); if (m) m.remove(); });
    newGroup(true);
    st.outbox.forEach(showPending);
  }

  function onAck(f) {
    var cmid = f.client_msg_id;
    var seq = Number(f.seq);
    var entry = null;
    for (var i = 0; i < st.outbox.length; i++) if (st.outbox[i].cmid === cmid) entry = st.outbox[i];
    dropFromOutbox(cmid);
    var m = byCmid.get(cmid);
    if (!(seq > 0)) return;
    if (bySeq.has(seq)) {                          // already shown by a replay
      if (m && bySeq.get(seq) !== m) { m.remove(); }
      return;
    }
    if (!m) return;
    markSent(m);
    setSeq(m, seq);
    place(m, seq);
    cache({ seq: seq, from: 'customer', text: entry ? entry.display : m.querySelector('.bubble').textContent, at: Date.now(), cmid: cmid });
  }

  function onPong() {
    st.pings.shift();
    clearTimeout(st.pongTimer);
    st.pongTimer = st.pings.length ? setTimeout(dead, PONG_TIMEOUT) : 0;
    updateTyping();
  }

  function onEnded(f) {
    st.ended = true;
    clearQuick();
    hideQueue();
    note(f.status === 'expired' ? t('endedExpired') : t('endedClosed'));
    showRating();
  }

  function onRated(f) {
    st.ratedCsat = Number(f.csat) || 0;
    save(KEY.rated, { cid: st.cid, csat: st.ratedCsat });
    showRating();
    el.newChat.focus();
  }

  function onError(f) {
    var code = f.code || '';
    var cmid = typeof f.client_msg_id === 'string' ? f.client_msg_id : null;
    if (!st.welcomed && (code === 'not_found' || code === 'closed')) {
      // the stored conversation is gone: a new one, on this same socket
      st.cid = null;
      save(KEY.cid, null);
      startNewLocal();
      hello();
      return;
    }
    if (!st.welcomed && !cmid && code === 'invalid' && st.cid) {
      st.cid = null;
      save(KEY.cid, null);
      hello();
      return;
    }
    if (cmid) {
      var m = byCmid.get(cmid);
      var entry = null;
      for (var i = 0; i < st.outbox.length; i++) if (st.outbox[i].cmid === cmid) entry = st.outbox[i];
      if (code === 'closed') {                    // the conversation ended meanwhile: carry on in a new one
        st.ended = true;
        hideQueue();
        note(t('endedClosed'));
        if (entry) startNew();
        return;
      }
      if (code === 'busy') {                      // back-pressure: the same message again, later
        setTimeout(function () { if (entry && st.welcomed && st.outbox.indexOf(entry) >= 0) transmit(entry); }, 1000);
        return;
      }
      dropFromOutbox(cmid);
      if (m) markFailed(m, f.message || code, code === 'internal' && entry ? entry : null);
      return;
    }
    note((f.message || code || 'error'), true);
  }

  /* ---- status, typing, rating ---- */
  function setStatus(s) {
    st.status = s;
    el.status.setAttribute('data-state', s);
    el.statusText.textContent = s === 'online' ? t('online') : s === 'connecting' ? t('connecting')
      : (navigator.onLine === false ? t('offline') : t('offlineIn', { s: st.retryIn }));
  }

  function updateTyping() {
    el.typing.hidden = st.pings.indexOf('reply') < 0;
    if (!el.typing.hidden) scrollDown();
  }

  function typing(on) {
    clearTimeout(st.typingTimer);
    if (on && st.welcomed) st.typingTimer = setTimeout(function () { typing(false); }, TYPING_IDLE);
    if (on === st.typingOn || !st.welcomed) return;
    st.typingOn = on;
    frame({ type: 'typing', on: on });
  }

  function resetStars() {
    var done = st.ratedCsat > 0;
    el.stars.hidden = done;
    el.rateScale.hidden = done;
    el.rateTitle.textContent = done ? t('rated', { n: st.ratedCsat }) : t('rateTitle');
    Array.prototype.forEach.call(el.stars.children, function (b) { b.disabled = false; b.setAttribute('aria-pressed', 'false'); });
  }

  function showRating() {
    resetStars();
    el.rate.hidden = false;
    scrollDown();
  }

  function rate(n) {
    if (!st.cid || st.ratedCsat) return;
    Array.prototype.forEach.call(el.stars.children, function (b) {
      b.setAttribute('aria-pressed', b.getAttribute('data-csat') === String(n) ? 'true' : 'false');
    });
    if (!st.welcomed) return;
    frame({ type: 'rate', csat: n });
  }

  /* ---- language ---- */
  function applyLang(lang) {
    st.lang = TEXT[lang] ? lang : 'en';
    save(KEY.lang, st.lang);
    document.documentElement.lang = st.lang === 'zh' ? 'zh-CN' : 'en';
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n]'), function (n) {
      n.textContent = t(n.getAttribute('data-i18n'));
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n-placeholder]'), function (n) {
      n.setAttribute('placeholder', t(n.getAttribute('data-i18n-placeholder')));
    });
    Array.prototype.forEach.call(document.querySelectorAll('.lang-btn'), function (b) {
      b.setAttribute('aria-pressed', b.getAttribute('data-lang') === st.lang ? 'true' : 'false');
    });
    Array.prototype.forEach.call(el.stars.children, function (b) {
      b.setAttribute('aria-label', t('rateStar', { n: b.getAttribute('data-csat') }));
    });
    el.log.setAttribute('aria-label', t('conversation'));
    document.querySelector('.lang').setAttribute('aria-label', t('langGroup'));
    if (el.rate && !el.rate.hidden) resetStars();
    if (el.queue) renderQueue();
    setStatus(st.status);
  }

  /* ---- start ---- */
  function autosize() {
    el.input.style.height = 'auto';
    el.input.style.height = Math.min(el.input.scrollHeight + 2, 128) + 'px';
  }

  function init() {
    el.log = document.getElementById('log');
    el.input = document.getElementById('input');
    el.form = document.getElementById('composer');
    el.typing = document.getElementById('typing');
    el.status = document.getElementById('status');
    el.statusText = document.getElementById('status-text');
    el.rate = document.getElementById('rate');
    el.rateTitle = document.getElementById('rate-title');
    el.rateScale = el.rate.querySelector('.rate-scale');
    el.stars = document.getElementById('stars');
    el.newChat = document.getElementById('new');
    el.end = document.getElementById('end');
    el.queue = document.getElementById('queue');

    var lang = load(KEY.lang, null);
    if (!lang) lang = /^zh\b/i.test(navigator.language || '') ? 'zh' : 'en';
    applyLang(lang);

    st.cid = load(KEY.cid, null);
    if (typeof st.cid !== 'string' || !/^[0-9a-f]{32}$/.test(st.cid)) st.cid = null;
    var tr = st.cid ? load(KEY.transcript, []) : [];
    st.transcript = Array.isArray(tr) ? tr.filter(function (m) { return m && m.seq > 0 && typeof m.text === 'string'; }) : [];
    var ob = load(KEY.outbox, []);
    st.outbox = Array.isArray(ob) ? ob.filter(function (e) { return e && CMID_RE.test(e.cmid) && typeof e.text === 'string'; }) : [];
    st.outbox.forEach(function (e) { if (typeof e.display !== 'string') e.display = e.text; });

    // The cached transcript first; resume asks only for what comes after it.
    newGroup(false);
    var cached = st.transcript.slice();
    st.transcript = [];
    var stored = Number(load(KEY.seq, 0)) || 0;
    st.restoring = true;
    cached.forEach(function (m) { showMessage(m, false); });
    st.restoring = false;
    var last = cached[cached.length - 1];
    if (last && last.from !== 'customer' && Array.isArray(last.qr) && bySeq.has(last.seq)) showQuick(bySeq.get(last.seq), last.qr);
    st.lastSeq = Math.min(stored, st.lastSeq);
    save(KEY.seq, st.cid ? st.lastSeq : null);
    var r = load(KEY.rated, null);
    if (r && r.cid === st.cid) st.ratedCsat = r.csat;
    st.outbox.forEach(showPending);
    var qs = st.cid ? load(KEY.queue, null) : null;
    if (qs && qs.cid === st.cid && qs.position >= 1) {
      // at: 0, so any notice replayed after it counts (no grace for a transfer)
      st.queue = { position: qs.position, eta_s: qs.eta_s, seq: Number(qs.seq) || 0, at: 0 };
    }
    renderQueue();
    scrollDown();
    el.end.disabled = !st.cid;

    el.form.addEventListener('submit', function (e) {
      e.preventDefault();
      var text = el.input.value;
      if (!text.trim()) return;
      el.input.value = '';
      autosize();
      clearQuick();
      send(text);
      el.input.focus();
    });
    el.input.addEventListener('compositionstart', function () { st.composing = true; });
    el.input.addEventListener('compositionend', function () { st.composing = false; });
    el.input.addEventListener('keydown', function (e) {
      if (e.key !== 'Enter' || e.shiftKey) return;
      // Enter that picks an IME candidate (Chinese, Japanese...) must not send.
      if (e.isComposing || st.composing || e.keyCode === 229) return;
      e.preventDefault();
      if (typeof el.form.requestSubmit === 'function') el.form.requestSubmit();
      else el.form.dispatchEvent(new Event('submit', { cancelable: true }));
    });
    el.input.addEventListener('input', function () {
      autosize();
      typing(el.input.value.length > 0);
    });
    Array.prototype.forEach.call(document.querySelectorAll('.lang-btn'), function (b) {
      b.addEventListener('click', function () { applyLang(b.getAttribute('data-lang')); });
    });
    Array.prototype.forEach.call(el.stars.children, function (b) {
      b.addEventListener('click', function () { rate(Number(b.getAttribute('data-csat'))); });
    });
    el.end.addEventListener('click', function () {
      showRating();
      var first = el.stars.querySelector('button:not([disabled])');
      if (first && !el.stars.hidden) first.focus();
    });
    el.newChat.addEventListener('click', function () { startNew(); el.input.focus(); });
    window.addEventListener('online', reconnectNow);
    window.addEventListener('offline', function () { setStatus(st.ws ? st.status : 'offline'); });
    document.addEventListener('visibilitychange', function () { if (!document.hidden) reconnectNow(); });

    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
