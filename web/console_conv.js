/* console_conv.js — the agent console's conversations: the tabs (one per
 * conversation assigned to this agent), each transcript with its intents,
 * entities and slots, the facts beside it, the message and note boxes,
 * canned responses, and transfer, hand-back and close.  Its own file because
 * this is most of the page; console.js keeps the socket and routes the
 * `assigned`, `message`, `note`, `transcript` and `released` frames here.
 * Loaded last; shares window.KefuConsole (K) with console.js and
 * console_queue.js (see the top of console.js).  Every text goes in through
 * textContent; messages are deduplicated by seq.
 */
(function () {
  'use strict';

  var K = window.KefuConsole;
  var st = K.st, el = K.el, t = K.t, node = K.node, str = K.str, asText = K.asText, fmtTime = K.fmtTime,
    fmtDur = K.fmtDur, whoOf = K.whoOf;
  var REFRESH_DELAY = 700;       // ms after a customer message: fetch intents and slots

  /* ---- conversations ---- */
  function requestTranscript(cid) {
    K.send({ type: 'transcript', conversation_id: cid }, { kind: 'transcript', cid: cid });
  }

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

  // After a welcome: the conversations assigned now get (or keep) their tabs,
  // the others go, and every tab asks for its transcript again.
  function restoreConvs(list) {
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

  function onAssigned(f) {
    var cid = f.conversation_id;
    if (typeof cid !== 'string') return;
    var fresh = !st.convs.has(cid);
    var c = ensureConv(f);
    st.offers.delete(cid);
    K.renderOffers();
    renderTabs();
    K.renderQueuesButtons();
    var mine = st.acceptFocus.has(cid);
    st.acceptFocus.delete(cid);
    if (fresh) K.announce(t('assigned', { who: whoOf(c.item, cid) }));
    if (!c.loaded) requestTranscript(cid);
    if (mine || !st.active) activate(cid, mine);
    else if (st.active === cid) showActive();
    K.updateTitle();
  }

  function onReleased(f) {
    var cid = f.conversation_id;
    var c = st.convs.get(cid);
    if (!c) return;
    var who = whoOf(c.item, cid);
    var wasActive = st.active === cid;
    dropConv(cid);
    renderTabs();
    K.renderQueuesButtons();
    if (!st.active) showActive();
    K.announce(t('released', { who: who, reason: t('rel_' + f.reason) }));
    if (wasActive) {
      if (st.active) st.convs.get(st.active).tab.focus();
      else el.main.focus();
    }
    K.updateTitle();
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
      if (st.active !== c.id || document.hidden) { c.unread++; renderTabs(); K.updateTitle(); }
      K.announce(t('newMessage', { who: whoOf(c.item, c.id), text: clip(str(f.text), 160) }));
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

  // The "who" of every message, again in the language just picked.
  function relabel() {
    st.convs.forEach(function (c) {
      c.bySeq.forEach(function (m) {
        var from = m.getAttribute('data-from');
        m.querySelector('.who').textContent = from === 'note' ? t('noteLabelFull') : t(from === 'customer' ? 'whoCustomer'
          : from === 'agent' ? 'whoAgent' : from === 'system' ? 'whoSystem' : 'whoBot');
      });
    });
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
    K.updateTitle();
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
    if (!K.send({ type: 'message', conversation_id: c.id, text: text }, { kind: 'message', cid: c.id, text: text })) {
      K.showError(t('connOffline', { s: st.retryIn }));
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
    if (!K.send({ type: 'note', conversation_id: c.id, text: text }, { kind: 'note', cid: c.id, text: text })) {
      K.showError(t('connOffline', { s: st.retryIn }));
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
    if (!K.send(f, { kind: 'transfer', cid: c.id })) el.transfer.disabled = false;
  }

  function handback() {
    var c = st.active && st.convs.get(st.active);
    if (!c) return;
    el.handback.disabled = true;
    if (!K.send({ type: 'handback', conversation_id: c.id }, { kind: 'handback', cid: c.id })) el.handback.disabled = false;
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
    if (!K.send({ type: 'close', conversation_id: c.id }, { kind: 'close', cid: c.id })) el.close.disabled = false;
  }

  /* ---- answers to message, note, transfer, handback, close ---- */
  // One that will not succeed: undo what the page did when it sent it.
  function undoConv(p) {
    if (p.kind === 'message' || p.kind === 'note') {
      // give the text back, unless something new was typed meanwhile
      var c = st.convs.get(p.cid);
      var box = p.kind === 'message' ? el.input : el.noteInput;
      if (c && st.active === p.cid && !box.value) box.value = p.text;
      else if (c && st.active !== p.cid) { if (p.kind === 'message' && !c.draft) c.draft = p.text; if (p.kind === 'note' && !c.noteDraft) c.noteDraft = p.text; }
    } else if (p.kind === 'transfer' || p.kind === 'handback' || p.kind === 'close') {
      enableActions();
    }
  }

  function enableActions() {
    el.transfer.disabled = el.transferTarget.options.length < 2;
    el.handback.disabled = false;
    el.close.disabled = false;
  }

  /* ---- keyboard in the tab list, and the controls' events (init calls bindConv) ---- */
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

  function bindConv() {
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
  }

  Object.assign(K, {
    restoreConvs: restoreConvs, onAssigned: onAssigned, onReleased: onReleased, onMessage: onMessage, onNote: onNote,
    onTranscript: onTranscript, relabel: relabel, renderTabs: renderTabs, showActive: showActive, cycle: cycle,
    renderCanned: renderCanned, renderTransferTargets: renderTransferTargets, hideConfirm: hideConfirm,
    enableActions: enableActions, undoConv: undoConv, bindConv: bindConv
  });
}());
