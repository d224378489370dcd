// test_console.mjs — the agent console at GET /console, end to end with the
// chat widget at GET /, in headless Chromium (playwright-core): three browser
// contexts, one customer and two agents, against one real kefu.
//
// The story, in order (each step a subtest; a failed step skips the rest):
//   the customer asks for a human and sees a queue position; agent 1 (skill
//   general, where the demo bot routes human_agent) signs in (after a wrong
//   password, which shows an error), sees the customer in the queue and an
//   offer with a countdown, accepts it with the keyboard; both sides see each
//   other's messages (Enter sends, Shift+Enter is a new line, a canned
//   response); a customer's XSS payload shows as text.  Agent 1 goes away (no
//   offers; accepting is refused, and the error frame is shown), comes back,
//   takes a second, Chinese customer from the queue (canned text in Chinese,
//   IME-safe Enter, unread count, tabs by arrow keys); its console reconnects
//   after the socket drops and restores both tabs without losing or doubling
//   a message; it hands the second customer back to the bot; a VIP customer
//   made over REST (name an XSS payload) is offered and refused by keyboard,
//   then leaves.  Agent 1 writes an internal note the customer never sees,
//   then transfers to skill cards; agent 2 (skill cards only) gets the offer,
//   accepts, sees the transcript with the earlier messages and the note,
//   writes, closes after a confirmation; the customer rates 5; GET /v1/stats
//   and GET /metrics count all of it; logging out, here or elsewhere, returns
//   a console to the sign-in form.
//
// tests/integration/test_console.py starts kefu (demo bot, temp data dir, two
// agents from `kefu agent add`) and runs this file.  By hand:
//   KEFU_URL=http://127.0.0.1:8000 AGENT1_ID=alice AGENT1_PASSWORD=... \
//   AGENT2_ID=bob AGENT2_PASSWORD=... node tests/browser/test_console.mjs
// Environment: KEFU_URL, AGENT1_ID/AGENT1_PASSWORD (skill general),
// AGENT2_ID/AGENT2_PASSWORD (skill cards, not general), CHROMIUM (default
// /usr/bin/chromium), SHOTS=dir (optional screenshots).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE = (process.env.KEFU_URL || '').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SHOTS || '';
const A1 = { id: process.env.AGENT1_ID, password: process.env.AGENT1_PASSWORD };
const A2 = { id: process.env.AGENT2_ID, password: process.env.AGENT2_PASSWORD };
const TRANSFER_SKILL = process.env.TRANSFER_SKILL || 'cards';
const T = 15000; // ms: bound on every wait

if (!BASE) throw new Error('KEFU_URL is not set (e.g. http://127.0.0.1:8000)');
if (!A1.id || !A1.password || !A2.id || !A2.password) throw new Error('AGENT1_ID/AGENT1_PASSWORD/AGENT2_ID/AGENT2_PASSWORD are not set');

const XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold?</b>';
const NOTE = 'Internal: customer verified by phone, handle with care';
const VIP_NAME = '<img src=x onerror="window.__xss=3">Ann';

let browser;
const pages = [];

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  if (browser) await browser.close();
});

// Runs in every page before its own scripts: keeps every WebSocket (to drop
// one), every frame received, and every conversation id that ever appeared
// as a queue item in the console (an item may be offered, and so leave the
// waiting list, within milliseconds).
function instrument() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__frames = [];
  window.__queued = {};
  window.__sent = [];
  class Spy extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      window.__sockets.push(this);
      const send = this.send.bind(this);
      this.send = (data) => {
        try { window.__sent.push(JSON.parse(data)); } catch (err) { window.__sent.push(String(data)); }
        return send(data);
      };
      this.addEventListener('message', (e) => {
        try { window.__frames.push(JSON.parse(e.data)); } catch (err) { window.__frames.push(String(e.data)); }
      });
    }
  }
  window.WebSocket = Spy;
  document.addEventListener('DOMContentLoaded', () => {
    const q = document.getElementById('queues');
    if (!q) return;
    new MutationObserver(() => {
      for (const li of q.querySelectorAll('.qitem')) {
        const cid = li.getAttribute('data-cid');
        if (!window.__queued[cid]) {
          window.__queued[cid] = {
            text: li.textContent,
            wait: (li.querySelector('.wait') || {}).textContent,
            accept: !!li.querySelector('button.accept'),
          };
        }
      }
    }).observe(q, { childList: true, subtree: true });
  });
}

// HTTP errors the console causes on purpose: /v1/agents/me before signing in,
// a wrong password.
const EXPECTED_HTTP = [/\/v1\/agents\/me$/, /\/v1\/agents\/login$/];

async function open(path, opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport || { width: 1280, height: 900 }, locale: opts.locale || 'en-US' });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location().url || '';
    if (/Failed to load resource/.test(m.text()) && EXPECTED_HTTP.some((re) => re.test(url))) return;
    page.errors.push(`console: ${m.text()} (${url})`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !EXPECTED_HTTP.some((re) => re.test(r.url()))) page.errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  pages.push(page);
  await page.goto(BASE + path);
  return { context, page };
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

// --- the customer (the widget) ---
async function say(page, text) {
  await page.locator('#input').fill(text);
  await page.locator('#input').press('Enter');
}

function widgetShows(page, sel, text) {
  return page.locator(`#log ${sel} .bubble`, { hasText: text }).last().waitFor({ timeout: T });
}

// --- the agents (the console) ---
async function signIn(page, agent) {
  await page.locator('#agent-id').fill(agent.id);
  await page.locator('#password').fill(agent.password);
  await page.locator('#password').press('Enter');
  await page.locator('#conn[data-state="online"]').waitFor({ timeout: T });
}

function thread(page, cid) {
  return page.locator(`#log .thread[data-cid="${cid}"]`);
}

function consoleShows(page, cid, from, text) {
  return thread(page, cid).locator(`.msg.from-${from} .bubble`, { hasText: text }).last().waitFor({ timeout: T });
}

async function seqs(page, cid) {
  return page.$$eval(`#log .thread[data-cid="${cid}"] .msg`, (ms) => ms.map((m) => Number(m.getAttribute('data-seq'))));
}

// Once accepted, a conversation leaves the waiting queues: a later queues
// frame no longer lists it, and neither does the page.
async function leftQueue(page, cid) {
  await page.waitForFunction((id) => {
    const qs = window.__frames.filter((f) => f.type === 'queues');
    const last = qs[qs.length - 1];
    return last && !last.skills.some((q) => q.waiting.some((i) => i.conversation_id === id));
  }, cid, { timeout: T });
  await page.locator(`#queues .qitem[data-cid="${cid}"]`).waitFor({ state: 'detached', timeout: T });
}

function announced(page, re) {
  return page.waitForFunction((src) => new RegExp(src).test(document.getElementById('announce').textContent +
    ' ' + document.getElementById('announce-urgent').textContent), re.source, { timeout: T });
}

// After a failure: what each page showed and last received, for the log.
async function dump() {
  for (const p of pages) {
    try {
      const d = await p.evaluate(() => ({
        errors: (document.getElementById('errors') || {}).textContent || '',
        frames: (window.__frames || []).slice(-12).map((f) => JSON.stringify(f).slice(0, 300)),
      }));
      console.error(`--- ${p.url()} errors shown: ${JSON.stringify(d.errors)}\n${d.frames.join('\n')}`);
    } catch (e) { console.error(`--- ${p.url()}: ${e.message}`); }
  }
}

// ---------------------------------------------------------------------------

test('customer → agent 1 → transfer → agent 2 → close → rating → stats', async (t) => {
  const s = {}; // shared between the steps
  // Each step needs the ones before it: after a failure the rest are skipped.
  const step = (name, fn) => t.test(name, async (st) => {
    if (s.failed) { st.skip(`after the failed step "${s.failed}"`); return; }
    try { await fn(); } catch (e) { s.failed = name; await dump(); throw e; }
  });

  await step('the console page and its assets', async () => {
    const r = await fetch(BASE + '/console');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    const html = await r.text();
    const assets = [...html.matchAll(/"\/static\/(console(?:_[a-z]+)?\.[0-9a-f]{16}\.(?:js|css))"/g)].map((m) => m[1]);
    assert.equal(assets.length, 4, html); // console.css, console.js, console_queue.js, console_conv.js
    for (const a of assets) {
      const ar = await fetch(BASE + '/static/' + a);
      assert.equal(ar.status, 200);
      assert.match(ar.headers.get('cache-control'), /immutable/);
    }
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'no external assets');
  });

  await step('a wrong password shows an error; the console waits for a sign-in', async () => {
    s.a1 = await open('/console');
    const p = s.a1.page;
    await p.locator('#login-form').waitFor({ state: 'visible', timeout: T });
    assert.ok(await p.locator('#desk').isHidden());
    await p.locator('#agent-id').fill(A1.id);
    await p.locator('#password').fill('definitely-not-the-password');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('#login-error').waitFor({ state: 'visible', timeout: T });
    assert.match(await p.locator('#login-error').textContent(), /wrong password/);
    assert.ok(await p.locator('#desk').isHidden());
    assert.equal(await p.evaluate(() => window.__sockets.length), 0, 'no socket before signing in');
  });

  await step('the customer asks for a human and sees a queue position', async () => {
    s.cu = await open('/', { viewport: { width: 390, height: 844 } });
    const p = s.cu.page;
    await p.locator('#status[data-state="online"]').waitFor({ timeout: T });
    await widgetShows(p, '.msg:not(.from-customer)', 'virtual assistant');
    await say(p, 'I want to talk to a human agent');
    await widgetShows(p, '.msg.from-system', 'Position in queue: 1');
    s.cid = await p.evaluate(() => JSON.parse(localStorage.getItem('kefu.chat.cid')));
    assert.match(s.cid, /^[0-9a-f]{32}$/);
    const q = await p.evaluate(() => window.__frames.filter((f) => f.type === 'queue'));
    assert.ok(q.length >= 1 && q[q.length - 1].position === 1 && q[q.length - 1].skill === 'general', JSON.stringify(q));
    // the widget's live queue banner shows the position
    await p.locator('#queue.on[data-position="1"]').waitFor({ timeout: T });
    assert.match(await p.locator('#queue').textContent(), /number 1 in the queue/);
  });

  await step('agent 1 signs in, sees the customer waiting and an offer, accepts with the keyboard', async () => {
    const p = s.a1.page;
    await signIn(p, A1);
    assert.ok(await p.locator('#login').isHidden());
    const who = await p.locator('#agent-name').textContent();
    assert.ok(who.length > 0);
    // the queue showed the customer (with a ticking wait and an Accept button)
    await p.waitForFunction((cid) => !!window.__queued[cid], s.cid, { timeout: T });
    const seen = await p.evaluate((cid) => window.__queued[cid], s.cid);
    assert.match(seen.wait, /Waiting \d+:\d\d/);
    assert.ok(seen.accept, 'a queue item can be accepted');
    const qframes = await p.evaluate(() => window.__frames.filter((f) => f.type === 'queues'));
    assert.ok(qframes.some((f) => f.skills.some((q) => q.skill === 'general' && q.waiting.some((i) => i.conversation_id === s.cid))),
      JSON.stringify(qframes));
    // the offer: highlighted, counting down, announced
    const offer = p.locator(`#offers .offer[data-cid="${s.cid}"]`);
    await offer.waitFor({ timeout: T });
    assert.match(await offer.locator('.countdown').textContent(), /Expires in \d+ s/);
    assert.match(await offer.textContent(), /human_agent/);
    await announced(p, /New offer/);
    const c1 = await offer.locator('.countdown').textContent();
    await p.waitForFunction(([cid, before]) => {
      const c = document.querySelector(`#offers .offer[data-cid="${cid}"] .countdown`);
      return !c || c.textContent !== before;
    }, [s.cid, c1], { timeout: 3000 });
    await shot(p, 'console-offer');
    // keyboard only: focus Accept, press Enter
    await offer.getByRole('button', { name: /^Accept/ }).focus();
    await p.keyboard.press('Enter');
    const tab = p.locator(`#tabs [role="tab"][data-cid="${s.cid}"]`);
    await tab.waitFor({ timeout: T });
    assert.equal(await tab.getAttribute('aria-selected'), 'true');
    await p.locator('#conv').waitFor({ state: 'visible', timeout: T });
    assert.equal(await p.locator(`#offers .offer[data-cid="${s.cid}"]`).count(), 0, 'the offer is gone once accepted');
    await leftQueue(p, s.cid);
    // the transcript so far: the customer's words with intent and confidence
    await consoleShows(p, s.cid, 'customer', 'I want to talk to a human agent');
    const m = thread(p, s.cid).locator('.msg.from-customer', { hasText: 'I want to talk to a human agent' });
    await m.locator('.nlu .intent').waitFor({ timeout: T });
    assert.equal(await m.locator('.nlu .intent').textContent(), 'human_agent');
    assert.match(await m.locator('.nlu .conf').textContent(), /\d+% confidence/);
    assert.match(await p.locator('#facts').textContent(), /general/);
    // the customer hears that someone joined
    await widgetShows(s.cu.page, '.msg.from-system', 'joined');
  });

  await step('messages both ways: Enter sends, Shift+Enter is a new line, canned responses', async () => {
    const a = s.a1.page, c = s.cu.page;
    await a.locator('#input').focus();
    await a.keyboard.type('Hello, this is your agent');
    await a.keyboard.press('Enter');
    await widgetShows(c, '.msg.from-agent', 'Hello, this is your agent');
    await consoleShows(a, s.cid, 'agent', 'Hello, this is your agent');
    await c.locator('#queue.on').waitFor({ state: 'detached', timeout: T }); // the banner is gone once an agent speaks
    assert.equal(await a.locator('#input').inputValue(), '', 'the box is empty after sending');

    await say(c, 'Thanks, my card was swallowed by an ATM');
    await consoleShows(a, s.cid, 'customer', 'my card was swallowed');
    await announced(a, /Message from .*my card was swallowed/);

    await a.locator('#input').focus();
    await a.keyboard.type('line one');
    await a.keyboard.press('Shift+Enter');
    await a.keyboard.type('line two');
    assert.equal(await a.locator('#input').inputValue(), 'line one\nline two');
    await a.keyboard.press('Enter');
    await widgetShows(c, '.msg.from-agent', 'line two');
    const last = await c.locator('#log .msg.from-agent .bubble').last().textContent();
    assert.equal(last, 'line one\nline two');

    // a canned response, picked with the keyboard-accessible select, in the conversation's language
    const opts = await a.locator('#canned option').count();
    assert.ok(opts > 1, 'canned responses come from the welcome frame');
    const welcome = await a.evaluate(() => window.__frames.find((f) => f.type === 'welcome'));
    const canned = welcome.canned[0];
    await a.locator('#canned').selectOption(String(canned.id));
    await a.locator('#canned-insert').click();
    const inserted = await a.locator('#input').inputValue();
    assert.equal(inserted, canned.text.en);
    assert.ok(await a.evaluate(() => document.activeElement.id === 'input'), 'focus back in the box');
    await a.keyboard.press('Enter');
    await widgetShows(c, '.msg.from-agent', canned.text.en.slice(0, 30));
  });

  await step("a customer's XSS payload is shown as text in the console", async () => {
    const a = s.a1.page, c = s.cu.page;
    await say(c, XSS);
    await consoleShows(a, s.cid, 'customer', 'onerror');
    const b = thread(a, s.cid).locator('.msg.from-customer .bubble', { hasText: 'onerror' }).last();
    assert.equal(await b.textContent(), XSS);
    assert.equal(await a.locator('#log img, #log script, #log b').count(), 0);
    assert.equal(await a.locator('#announce img, #announce script').count(), 0);
    await a.waitForTimeout(300);
    assert.equal(await a.evaluate(() => window.__xss), undefined);
    assert.equal(await c.evaluate(() => window.__xss), undefined);
  });

  await step('agent 1 goes away (no offers, cannot accept), back online takes a second customer from the queue; unread counts; tabs by keyboard', async () => {
    const a = s.a1.page;
    const tab1 = `#tabs [role="tab"][data-cid="${s.cid}"]`;
    await a.locator('#status-select').selectOption('away');
    await a.waitForFunction(() => window.__frames.some((f) => f.type === 'status' && f.status === 'away'), null, { timeout: T });
    assert.equal(await a.locator('#status-select').inputValue(), 'away');

    // the second customer speaks Chinese
    s.cu2 = await open('/', { viewport: { width: 390, height: 844 }, locale: 'zh-CN' });
    const c2 = s.cu2.page;
    await c2.locator('#status[data-state="online"]').waitFor({ timeout: T });
    await say(c2, '我要转人工');
    await widgetShows(c2, '.msg.from-system', '当前排队位置：1');
    await c2.locator('#queue.on[data-position="1"]').waitFor({ timeout: T });
    s.cid2 = await c2.evaluate(() => JSON.parse(localStorage.getItem('kefu.chat.cid')));
    assert.notEqual(s.cid2, s.cid);

    const item = a.locator(`#queues .qitem[data-cid="${s.cid2}"]`);
    await item.waitFor({ timeout: T });
    // the wait ticks each second
    const w = await item.locator('.wait').textContent();
    assert.match(w, /Waiting \d+:\d\d/);
    await a.waitForFunction(([cid, before]) => {
      const e = document.querySelector(`#queues .qitem[data-cid="${cid}"] .wait`);
      return e && e.textContent !== before;
    }, [s.cid2, w], { timeout: 3000 });
    assert.equal(await a.locator(`#offers .offer[data-cid="${s.cid2}"]`).count(), 0, 'no offer while away');
    assert.ok(!(await a.evaluate((cid) => window.__frames.some((f) => f.type === 'offer' && f.conversation_id === cid), s.cid2)),
      'no offer frame while away');

    // an away agent may not take conversations: the server's error frame is shown
    await item.getByRole('button', { name: /^Accept/ }).click();
    await a.locator('#errors .error', { hasText: 'state' }).waitFor({ timeout: T });
    assert.ok(await item.getByRole('button', { name: /^Accept/ }).isEnabled(), 'Accept can be tried again');
    await a.locator('#errors .error button').first().click(); // dismissable
    assert.equal(await a.locator('#errors .error', { hasText: 'state' }).count(), 0);

    // online again: the router offers it; take it from the queue rather than the offer
    await a.locator('#status-select').selectOption('online');
    await a.waitForFunction(() => {
      const st = window.__frames.filter((f) => f.type === 'status');
      return st.length && st[st.length - 1].status === 'online';
    }, null, { timeout: T });
    await a.locator(`#offers .offer[data-cid="${s.cid2}"]`).waitFor({ timeout: T });
    await a.locator(`#queues .qitem[data-cid="${s.cid2}"]`).getByRole('button', { name: /^Accept/ }).click();
    const tab2 = `#tabs [role="tab"][data-cid="${s.cid2}"]`;
    await a.locator(tab2).waitFor({ timeout: T });
    assert.equal(await a.locator(tab2).getAttribute('aria-selected'), 'true', 'the accepted conversation opens');
    await leftQueue(a, s.cid2);
    await widgetShows(c2, '.msg.from-system', 'Alice');
    assert.equal(await a.locator('#convs-count').textContent(), '2');
    // canned responses come in the conversation's language
    const canned = (await a.evaluate(() => window.__frames.find((f) => f.type === 'welcome'))).canned[0];
    await a.locator('#canned').selectOption(String(canned.id));
    await a.locator('#canned-insert').click();
    assert.equal(await a.locator('#input').inputValue(), canned.text.zh);
    await a.locator('#input').fill('');
    // Enter while an IME is composing picks a candidate: it must not send
    // (Chromium's IME path over CDP, then Safari's order: keyCode 229 after compositionend)
    await a.locator('#input').focus();
    const cdp = await s.a1.context.newCDPSession(a);
    await cdp.send('Input.imeSetComposition', { text: 'ninhao', selectionStart: 6, selectionEnd: 6 });
    await a.keyboard.press('Enter');
    await cdp.send('Input.insertText', { text: '您好，我是客服小王' });
    await a.evaluate(() => document.getElementById('input').dispatchEvent(new KeyboardEvent('keydown',
      { key: 'Enter', code: 'Enter', keyCode: 229, bubbles: true, cancelable: true })));
    await a.waitForTimeout(300);
    assert.equal(await thread(a, s.cid2).locator('.msg.from-agent').count(), 0, 'Enter during IME composition sent the message');
    assert.match(await a.locator('#input').inputValue(), /您好，我是客服小王/);
    await a.locator('#input').fill('您好，我是客服小王');
    await a.keyboard.press('Enter');
    await widgetShows(c2, '.msg.from-agent', '我是客服小王');

    // a message in the tab not shown counts as unread
    await a.locator(tab1).click();
    await say(c2, '你好，我是第二位客户');
    await a.locator(`${tab2} .unread`).waitFor({ timeout: T });
    assert.equal(await a.locator(`${tab2} .unread`).textContent(), '1');
    assert.match(await a.locator(tab2).textContent(), /1 unread/);
    // arrow keys move between the tabs; opening one clears its count
    await a.locator(tab1).focus();
    await a.keyboard.press('ArrowDown');
    assert.equal(await a.locator(tab2).getAttribute('aria-selected'), 'true');
    assert.ok(await a.evaluate((cid) => document.activeElement.getAttribute('data-cid') === cid, s.cid2));
    assert.equal(await a.locator(`${tab2} .unread`).count(), 0);
    await consoleShows(a, s.cid2, 'customer', '我是第二位客户');
    assert.equal(await a.locator(`#offers .offer[data-cid="${s.cid2}"]`).count(), 0, 'the offer is gone');
    await a.locator(tab1).click();
  });

  await step("agent 1's console reconnects after its socket drops, nothing lost or doubled", async () => {
    const a = s.a1.page;
    const before = await seqs(a, s.cid);
    const n = await a.evaluate(() => window.__sockets.length);
    await a.evaluate(() => window.__sockets[window.__sockets.length - 1].close());
    await a.locator('#conn[data-state="offline"], #conn[data-state="connecting"]').first().waitFor({ timeout: T });
    await a.locator('#conn[data-state="online"]').waitFor({ timeout: T });
    assert.ok(await a.evaluate(() => window.__sockets.length) > n);
    // the welcome's conversations restored the tabs; the transcripts came again, deduplicated by seq
    await a.locator(`#tabs [role="tab"][data-cid="${s.cid}"]`).waitFor({ timeout: T });
    await a.locator(`#tabs [role="tab"][data-cid="${s.cid2}"]`).waitFor({ timeout: T });
    const welcomes = await a.evaluate(() => window.__frames.filter((f) => f.type === 'welcome'));
    assert.equal(welcomes.length, 2);
    assert.deepEqual(welcomes[1].conversations.map((i) => i.conversation_id).sort(), [s.cid, s.cid2].sort());
    await a.waitForFunction((cid) => window.__frames.filter((f) => f.type === 'transcript' && f.conversation_id === cid).length >= 2,
      s.cid, { timeout: T });
    const after = await seqs(a, s.cid);
    assert.deepEqual(after, before);
    assert.equal(new Set(after).size, after.length);
    // and it still works
    await say(s.cu.page, 'are you still there?');
    await consoleShows(a, s.cid, 'customer', 'are you still there?');
  });

  await step('agent 1 hands the second customer back to the bot', async () => {
    const a = s.a1.page, c2 = s.cu2.page;
    const tab2 = `#tabs [role="tab"][data-cid="${s.cid2}"]`;
    await a.locator(tab2).click();
    await a.locator('#handback').click();
    await a.locator(tab2).waitFor({ state: 'detached', timeout: T });
    const rel = await a.evaluate(() => window.__frames.filter((f) => f.type === 'released'));
    assert.equal(rel[rel.length - 1].reason, 'handed_back');
    // the first conversation is the open one again
    assert.equal(await a.locator(`#tabs [role="tab"][data-cid="${s.cid}"]`).getAttribute('aria-selected'), 'true');
    await announced(a, /handed back to the bot/);
    // the bot answers the customer again
    const bots = await c2.locator('#log .msg.from-bot').count();
    await say(c2, '你们几点开门？');
    await c2.waitForFunction((n) => document.querySelectorAll('#log .msg.from-bot').length > n, bots, { timeout: T });
  });

  await step('a VIP customer (over REST): badge, name shown as text; agent 1 rejects the offer by keyboard', async () => {
    const a = s.a1.page;
    const post = (path, body) => fetch(BASE + path, { method: 'POST', headers: { 'content-type': 'application/json' },
                                                       body: JSON.stringify(body) });
    let r = await post('/v1/conversations', { user_id: 'vip-1', name: VIP_NAME, vip_tier: 3, language: 'en' });
    assert.equal(r.status, 201);
    s.cid3 = (await r.json()).conversation_id;
    r = await post(`/v1/conversations/${s.cid3}/messages`, { text: 'I want to talk to a human agent' });
    assert.equal(r.status, 200);
    assert.ok((await r.json()).handoff, 'handed off');

    const offer = a.locator(`#offers .offer[data-cid="${s.cid3}"]`);
    await offer.waitFor({ timeout: T });
    assert.equal(await offer.locator('.badge.vip').textContent(), 'VIP 3');
    assert.equal(await offer.locator('.name').textContent(), VIP_NAME);
    await announced(a, /New offer: .*VIP 3/);
    const item = a.locator(`#queues .qitem[data-cid="${s.cid3}"]`);
    await item.waitFor({ timeout: T });
    assert.equal(await item.locator('.badge.vip').textContent(), 'VIP 3');
    assert.equal(await a.locator('#offers img, #queues img').count(), 0);
    // refused with the keyboard shortcut (focus is elsewhere): a reject frame, answered ok
    await a.locator(`#tabs [role="tab"][data-cid="${s.cid}"]`).focus();
    await a.keyboard.press('Alt+Shift+KeyR');
    await a.waitForFunction((cid) => {
      const rej = window.__sent.find((f) => f.type === 'reject' && f.conversation_id === cid);
      return rej && window.__frames.some((f) => f.type === 'ok' && f.ref === rej.ref);
    }, s.cid3, { timeout: T });
    // (agent 1 is the only agent with skill general, so the router may offer it to her again:
    // "a refusal steers, it does not ban", src/router/routing.c)
    // the customer leaves: any offer is withdrawn, the queue forgets it
    r = await post(`/v1/conversations/${s.cid3}/close`, {});
    assert.equal(r.status, 200);
    await offer.waitFor({ state: 'detached', timeout: T });
    await item.waitFor({ state: 'detached', timeout: T });
    const offers = await a.evaluate((cid) => window.__frames.filter((f) => f.type === 'offer' && f.conversation_id === cid).length, s.cid3);
    if (offers > 1) {
      const wd = await a.evaluate((cid) => window.__frames.filter((f) => f.type === 'offer_withdrawn' && f.conversation_id === cid), s.cid3);
      assert.equal(wd[wd.length - 1].reason, 'left', JSON.stringify(wd));
      await announced(a, /the customer left/);
    }
    assert.equal(await a.evaluate(() => window.__xss), undefined);
  });

  await step('agent 1 writes an internal note; the customer never sees it', async () => {
    const a = s.a1.page, c = s.cu.page;
    await a.locator('#note-input').fill(NOTE);
    await a.locator('#note-input').press('Enter');
    await consoleShows(a, s.cid, 'note', NOTE);
    const note = thread(a, s.cid).locator('.msg.from-note', { hasText: NOTE });
    assert.match(await note.textContent(), /internal note — not visible to the customer/i);
    // make sure anything the server would push has arrived: a round trip after the note
    await a.locator('#input').fill('One more thing from me');
    await a.locator('#input').press('Enter');
    await widgetShows(c, '.msg.from-agent', 'One more thing from me');
    assert.doesNotMatch(await c.locator('#log').textContent(), /verified by phone/);
    assert.ok(!(await c.evaluate(() => JSON.stringify(window.__frames))).includes('verified by phone'),
      'the note never reached the customer socket');
    const r = await fetch(`${BASE}/v1/conversations/${s.cid}/messages?after_seq=0&limit=1000`);
    assert.equal(r.status, 200);
    const stored = await r.json();
    assert.ok(!JSON.stringify(stored).includes('verified by phone'), 'the customer API does not show the note');
  });

  await step(`agent 1 transfers to skill ${TRANSFER_SKILL}; agent 2 gets the offer and the full transcript`, async () => {
    s.a2 = await open('/console');
    const b = s.a2.page;
    await b.locator('#login-form').waitFor({ state: 'visible', timeout: T });
    await signIn(b, A2);
    const a = s.a1.page;
    // targets: every skill, and every other agent (not oneself) from the welcome frame
    assert.equal(await a.locator(`#transfer-target option[value="agent:${A2.id}"]`).count(), 1);
    assert.equal(await a.locator(`#transfer-target option[value="agent:${A1.id}"]`).count(), 0);
    assert.equal(await a.locator('#transfer-target option[value^="skill:"]').count(),
      (await a.evaluate(() => window.__frames.find((f) => f.type === 'welcome').skills.length)));
    const value = `skill:${TRANSFER_SKILL}`;
    await a.locator('#transfer-target').selectOption(value);
    await a.locator('#transfer').click();
    // released: the tab leaves agent 1's list
    await a.locator(`#tabs [role="tab"][data-cid="${s.cid}"]`).waitFor({ state: 'detached', timeout: T });
    await a.locator('#no-conv').waitFor({ state: 'visible', timeout: T });
    const rel = await a.evaluate(() => window.__frames.filter((f) => f.type === 'released'));
    assert.equal(rel[rel.length - 1].reason, 'transferred');

    const offer = b.locator(`#offers .offer[data-cid="${s.cid}"]`);
    await offer.waitFor({ timeout: T });
    await offer.getByRole('button', { name: /^Accept/ }).click();
    await b.locator(`#tabs [role="tab"][data-cid="${s.cid}"]`).waitFor({ timeout: T });
    await leftQueue(b, s.cid);
    for (const text of ['I want to talk to a human agent', 'my card was swallowed'])
      await consoleShows(b, s.cid, 'customer', text);
    await consoleShows(b, s.cid, 'agent', 'Hello, this is your agent');
    await consoleShows(b, s.cid, 'note', NOTE);
    const xss = thread(b, s.cid).locator('.msg.from-customer .bubble', { hasText: 'onerror' });
    assert.equal(await xss.textContent(), XSS);
    assert.equal(await b.locator('#log img, #log script').count(), 0);
    const all = await seqs(b, s.cid);
    assert.deepEqual(all, [...all].sort((x, y) => x - y), 'in seq order');
    assert.equal(new Set(all).size, all.length, 'no duplicates');
    await shot(b, 'console-transferred');
    // every control on screen has an accessible name (a label, text or aria-label)
    const nameless = await b.evaluate(() => [...document.querySelectorAll('button, select, textarea, input, [role="tab"]')]
      .filter((e) => e.offsetParent !== null)
      .filter((e) => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') ||
                       e.textContent.trim()))
      .map((e) => e.outerHTML.slice(0, 120)));
    assert.deepEqual(nameless, []);
    // a reloaded console is still signed in (the cookie) and picks the conversation up again
    await b.reload();
    await b.locator('#conn[data-state="online"]').waitFor({ timeout: T });
    assert.ok(await b.locator('#login').isHidden(), 'no sign-in form after a reload');
    await b.locator(`#tabs [role="tab"][data-cid="${s.cid}"][aria-selected="true"]`).waitFor({ timeout: T });
    await consoleShows(b, s.cid, 'note', NOTE);
    assert.deepEqual(await seqs(b, s.cid), all);

    await b.locator('#input').fill('Hi, I am from the cards team');
    await b.locator('#input').press('Enter');
    await widgetShows(s.cu.page, '.msg.from-agent', 'from the cards team');
    await say(s.cu.page, 'great, thanks');
    await consoleShows(b, s.cid, 'customer', 'great, thanks');
  });

  await step('agent 2 closes (with a confirmation); the customer rates 5', async () => {
    const b = s.a2.page, c = s.cu.page;
    await b.locator('#close').click();
    await b.locator('#close-confirm').waitFor({ state: 'visible', timeout: T });
    // Escape cancels; the conversation stays
    await b.keyboard.press('Escape');
    await b.locator('#close-confirm').waitFor({ state: 'hidden', timeout: T });
    assert.ok(await b.evaluate(() => document.activeElement.id === 'close'));
    await b.keyboard.press('Enter');
    await b.locator('#close-yes').waitFor({ state: 'visible', timeout: T });
    assert.ok(await b.evaluate(() => document.activeElement.id === 'close-yes'));
    await b.keyboard.press('Enter');
    await b.locator(`#tabs [role="tab"][data-cid="${s.cid}"]`).waitFor({ state: 'detached', timeout: T });
    const rel = await b.evaluate(() => window.__frames.filter((f) => f.type === 'released'));
    assert.equal(rel[rel.length - 1].reason, 'closed');

    await c.locator('#rate').waitFor({ state: 'visible', timeout: T });
    await c.locator('#stars .star[data-csat="5"]').click();
    await c.waitForFunction(() => /rated this conversation 5/.test(document.getElementById('rate-title').textContent), null, { timeout: T });
    await shot(c, 'widget-rated');
  });

  await step('GET /v1/stats and GET /metrics count the handoff, the transfer and the rating', async () => {
    // the rating is stored after `rated` reaches the widget; give the counters a moment
    let stats;
    for (let i = 0; i < 20; i++) {
      const r = await fetch(BASE + '/v1/stats');
      assert.equal(r.status, 200, 'GET /v1/stats');
      stats = await r.json();
      if (stats.csat && stats.csat.count >= 1) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    const js = JSON.stringify(stats);
    assert.equal(stats.csat.count, 1, js);
    assert.equal(stats.csat.average, 5, js);
    assert.equal(stats.conversations.escalated, 2, js);   // ours and the VIP who left
    assert.ok(stats.conversations.containment_rate < 1, js);
    assert.ok(stats.handoffs.total >= 1, js);
    assert.equal(stats.handoffs.by_reason.customer_request, 3, js); // three customers asked
    assert.equal(stats.handoffs.by_reason.transfer, 1, js);
    assert.ok(stats.offers.made >= 4, js);        // customers 1, 2 and the VIP to agent 1; customer 1 to agent 2
    assert.equal(stats.wait.count, 3, js);        // three accepts, three waits measured
    const general = stats.queues.find((q) => q.skill === 'general');
    assert.equal(general.waiting + general.offered, 0, js);

    const text = await (await fetch(BASE + '/metrics')).text();
    const value = (series) => {
      const line = text.split('\n').find((l) => l.startsWith(series + ' '));
      assert.ok(line, `${series} missing from /metrics`);
      return Number(line.slice(series.length + 1));
    };
    assert.equal(value('kefu_handoffs_total{reason="customer_request"}'), 3);
    assert.equal(value('kefu_queue_waiting{skill="general"}'), 0);
    assert.equal(value('kefu_handoffs_total{reason="transfer"}'), 1);
    assert.equal(value('kefu_csat_ratings_total'), 1);
    assert.equal(value('kefu_csat_average'), 5);
    assert.equal(value('kefu_conversations_ended_total{outcome="escalated"}'), 2);
    assert.equal(value('kefu_conversations_ended_total{outcome="contained"}'), 0);
    assert.ok(value('kefu_containment_ratio') < 1);
    assert.equal(value('kefu_handoff_wait_seconds_count'), 3);
    assert.ok(value('kefu_offers_total{event="made"}') >= 4);
  });

  await step('Log out ends the session; a session ended elsewhere returns the console to the sign-in form', async () => {
    const a = s.a1.page;
    const n = await a.evaluate(() => window.__sockets.length);
    await a.getByRole('button', { name: 'Log out' }).click();
    await a.locator('#login-form').waitFor({ state: 'visible', timeout: T });
    assert.ok(await a.locator('#desk').isHidden());
    assert.equal((await s.a1.context.request.get(BASE + '/v1/agents/me')).status(), 401);
    await a.waitForTimeout(1500);
    assert.equal(await a.evaluate(() => window.__sockets.length), n, 'no reconnecting after logging out');
    assert.ok(await a.evaluate(() => window.__sockets.every((w) => w.readyState === 3)), 'the socket is closed');

    // agent 2 is logged out by another tab (same cookie): the server drops the socket with 1008
    const b = s.a2.page;
    assert.equal((await s.a2.context.request.post(BASE + '/v1/agents/logout')).status(), 200);
    await b.locator('#login-form').waitFor({ state: 'visible', timeout: T });
    assert.match(await b.locator('#login-error').textContent(), /session has ended/);
  });

  await step('no script errors, nothing sideways on a phone', async () => {
    const b = s.a2.page;
    for (const width of [390, 360]) {
      await b.setViewportSize({ width, height: 780 });
      const over = await b.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(over <= 0, `the console scrolls sideways by ${over}px at ${width}px`);
    }
    await shot(b, 'console-phone');
    for (const p of pages) assert.deepEqual(p.errors, [], `errors on ${p.url()}`);
  });
});
