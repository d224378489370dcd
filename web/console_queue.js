/* console_queue.js — the agent console's waiting queues and the offers made
 * to this agent: the `queues`, `offer` and `offer_withdrawn` frames, accept and
 * reject, and the one-second tick of waits and countdowns.  Its own file so
 * that console.js keeps the socket and console_conv.js what happens after an
 * accept.  Loaded after console.js, whose window.KefuConsole (K) it shares;
 * see the top of console.js for how the three files fit.
 *
 * Waits and countdowns come from the server's numbers: queue waits from
 * enqueued_at and the frame's `now` (so the browser's clock does not matter),
 * offers from expires_in_s.  Every text goes in through textContent.
 */
(function () {
  'use strict';

  var K = window.KefuConsole;
  var st = K.st, el = K.el, t = K.t, node = K.node, button = K.button, str = K.str, fmtDur = K.fmtDur,
    whoOf = K.whoOf, cssEsc = K.cssEsc;

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
    if (changed) { renderOffers(); K.updateTitle(); }
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

  /* ---- offers ---- */
  function onOffer(f) {
    var cid = f.conversation_id;
    if (typeof cid !== 'string') return;
    var secs = Number(f.expires_in_s);
    st.offers.set(cid, { item: f, expiresAt: Date.now() + (secs > 0 ? secs : 30) * 1000, sticky: !!f.sticky });
    renderOffers();
    var vip = Number(f.vip_tier) > 0 ? ' (' + t('vip', { n: f.vip_tier }) + ')' : '';
    K.announce(t('newOffer', { who: whoOf(f, cid), vip: vip, intent: str(f.intent) || str(f.skill) }), true);
    K.updateTitle();
  }

  function onOfferWithdrawn(f) {
    var o = st.offers.get(f.conversation_id);
    if (!o) return;
    st.offers.delete(f.conversation_id);
    renderOffers();
    if (!st.acceptFocus.has(f.conversation_id) || f.reason !== 'taken')
      K.announce(t('offerGone', { who: whoOf(o.item, f.conversation_id), reason: t('wd_' + f.reason) }));
    K.updateTitle();
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
        K.updateTitle();
      }
    }
  }

  function accept(cid) {
    var o = st.offers.get(cid);
    if (o) { o.pending = true; renderOffers(); }
    st.acceptFocus.add(cid);
    renderQueuesButtons();
    if (!K.send({ type: 'accept', conversation_id: cid }, { kind: 'accept', cid: cid })) {
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
    if (!K.send({ type: 'reject', conversation_id: cid }, { kind: 'reject', cid: cid })) { o.pending = false; renderOffers(); }
  }

  function renderQueuesButtons() {
    Array.prototype.forEach.call(el.queues.querySelectorAll('button.accept'), function (b) {
      var cid = b.getAttribute('data-cid');
      b.disabled = st.convs.has(cid) || st.acceptFocus.has(cid);
    });
  }

  /* ---- ticking ---- */
  function tick() {
    Array.prototype.forEach.call(el.queues.querySelectorAll('.wait'), function (w) {
      if (!w._wait) return;
      w.textContent = t('waited', { t: fmtDur(w._wait.base + (Date.now() - w._wait.at) / 1000) });
    });
    Array.prototype.forEach.call(el.offerList.querySelectorAll('.countdown'), tickOffer);
  }

  /* ---- answers to accept and reject (console.js matches them by ref) ---- */
  // The reject went through: drop only that offer (the router may already have
  // offered the conversation again, to the only agent).
  function offerRejected(cid) {
    var o = st.offers.get(cid);
    if (o && o.pending) { st.offers.delete(cid); renderOffers(); K.updateTitle(); }
  }

  // An accept or reject that will not succeed (code: the error's, if any).
  function undoOffer(p, code) {
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
    }
  }

  Object.assign(K, {
    onQueues: onQueues, renderQueues: renderQueues, onOffer: onOffer, onOfferWithdrawn: onOfferWithdrawn,
    renderOffers: renderOffers, accept: accept, reject: reject, renderQueuesButtons: renderQueuesButtons, tick: tick,
    offerRejected: offerRejected, undoOffer: undoOffer
  });
}());
