// test_widget.mjs — the chat widget at GET / in headless Chromium (playwright-core).
//
// Needs a running kefu with the demo bot whose block_card webhook answers
// {"reference": ...}; tests/integration/test_browser.py starts one (and a stub
// card backend) and runs this file.  By hand:
//   KEFU_URL=http://127.0.0.1:8000 node tests/browser/test_widget.mjs
// Environment: KEFU_URL (required), CHROMIUM (default /usr/bin/chromium),
// SHOTS=dir (optional: screenshots of the phone layout, for a human to look at).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE = (process.env.KEFU_URL || '').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SHOTS || '';
const PHONE = { width: 390, height: 844 };
const T = 15000; // ms: bound on every wait

if (!BASE) throw new Error('KEFU_URL is not set (e.g. http://127.0.0.1:8000)');

let browser;
const pages = []; // every page opened, checked for script errors at the end

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  if (browser) await browser.close();
});

// Instruments the page before its own scripts run: keeps every WebSocket the
// widget opens (to kill one), every frame it sends, whether the typing
// indicator ever showed, and can drop the socket right after a message frame
// went out (so the ack is lost and the widget has to resend).
function instrument() {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__sent = [];
  window.__typingSeen = false;
  window.__dropAfterMessage = false;
  class Spy extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const n = window.__sockets.push(this);
      window.__received = window.__received || [];
      this.addEventListener('open', () => window.__received.push(`#${n} open`));
      this.addEventListener('message', (e) => window.__received.push(`#${n} ${e.data}`));
      this.addEventListener('close', (e) => window.__received.push(`#${n} close ${e.code}`));
    }
    send(data) {
      super.send(data);
      window.__sent.push(String(data));
      if (window.__dropAfterMessage) {
        let type = null;
        try { type = JSON.parse(data).type; } catch (e) { /* not ours */ }
        if (type === 'message') {
          window.__dropAfterMessage = false;
          this.close();
        }
      }
    }
  }
  window.WebSocket = Spy;
  document.addEventListener('DOMContentLoaded', () => {
    const t = document.getElementById('typing');
    if (t) new MutationObserver(() => { if (!t.hidden) window.__typingSeen = true; }).observe(t, { attributes: true });
  });
}

async function open(opts = {}) {
  const context = await browser.newContext({ viewport: opts.viewport || PHONE, locale: opts.locale || 'en-US',
                                             hasTouch: true, isMobile: !!opts.mobile });
  await context.addInitScript(instrument);
  const page = await context.newPage();
  page.errors = [];
  page.dialogs = [];
  page.responses = [];
  page.on('pageerror', (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(`console: ${m.text()} (${m.location().url})`); });
  page.on('dialog', async (d) => { page.dialogs.push(d.message()); await d.dismiss(); });
  page.on('response', (r) => {
    page.responses.push(r);
    if (r.status() >= 400) page.errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  pages.push(page);
  await page.goto(BASE + '/');
  await online(page);
  return { context, page };
}

async function online(page) {
  await page.locator('#status[data-state="online"]').waitFor({ timeout: T });
}

async function say(page, text) {
  await page.locator('#input').fill(text);
  await page.locator('#input').press('Enter');
}

// The texts of the messages shown, in order: [{from, text, seq}].
async function transcript(page) {
  return page.$$eval('#log .msg', (ms) => ms.map((m) => ({
    from: m.getAttribute('data-from'),
    text: m.querySelector('.bubble').textContent,
    seq: m.getAttribute('data-seq') === null ? null : Number(m.getAttribute('data-seq')),
  })));
}

function botSays(page, text) {
  return page.locator('#log .msg:not(.from-customer) .bubble', { hasText: text }).last().waitFor({ timeout: T });
}

async function settled(page) {
  // every sent message acked and its answers in: nothing pending, no typing
  await page.waitForFunction(() => !document.querySelector('#log .msg.pending') &&
    document.getElementById('typing').hidden, null, { timeout: T });
}

async function stored(page) {
  const cid = await page.evaluate(() => JSON.parse(localStorage.getItem('kefu.chat.cid')));
  assert.match(cid, /^[0-9a-f]{32}$/);
  const r = await fetch(`${BASE}/v1/conversations/${cid}/messages?after_seq=0`);
  assert.equal(r.status, 200);
  return (await r.json()).messages;
}

function assertNoDuplicates(tr) {
  const seqs = tr.map((m) => m.seq).filter((s) => s !== null);
  assert.equal(new Set(seqs).size, seqs.length, `duplicate seq in ${JSON.stringify(tr)}`);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `out of order: ${JSON.stringify(tr)}`);
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png` });
}

// ---------------------------------------------------------------------------

test('phone layout: greeting, input ready, no sideways scrolling, cached assets', async () => {
  const { context, page } = await open();
  await botSays(page, "virtual assistant");
  const input = page.locator('#input');
  assert.ok(await input.isVisible() && await input.isEditable());
  assert.ok(await page.locator('#send').isVisible());
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  // the greeting's quick replies are buttons
  assert.ok(await page.getByRole('button', { name: 'Lost or stolen card' }).isVisible());
  for (const width of [390, 360]) {
    await page.setViewportSize({ width, height: 740 });
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(over <= 0, `page scrolls sideways by ${over}px at ${width}px`);
  }
  await shot(page, 'phone-greeting');
  // the page revalidates; its script and style have content-hashed names, cached for a year
  const html = page.responses.find((r) => r.url() === BASE + '/');
  assert.equal(html.headers()['cache-control'], 'no-cache');
  assert.ok(html.headers()['etag']);
  const assets = page.responses.filter((r) => /\/static\/chat\.[0-9a-f]{16}\.(js|css)$/.test(r.url()));
  assert.equal(assets.length, 2, page.responses.map((r) => r.url()).join(' '));
  for (const a of assets) {
    assert.equal(a.status(), 200);
    assert.match(a.headers()['cache-control'], /max-age=31536000/);
    assert.match(a.headers()['cache-control'], /immutable/);
  }
  // the footer keeps the links to the API docs and metrics
  assert.equal(await page.locator('footer a[href="/docs"]').count(), 1);
  assert.equal(await page.locator('footer a[href="/metrics"]').count(), 1);
  await context.close();
});

test('block a lost card in English, with the quick reply; typing indicator shows', async () => {
  const { context, page } = await open();
  await botSays(page, 'virtual assistant');
  await say(page, 'I lost my card');
  await botSays(page, 'last 4 digits');
  await say(page, '1234');
  await botSays(page, 'Block the card ending 1234?');
  const yes = page.getByRole('button', { name: 'Yes, block it' });
  await yes.click();
  await botSays(page, 'The card ending 1234 is blocked. Your reference number is');
  await settled(page);
  const tr = await transcript(page);
  // the customer's bubble shows the button's title, the server got its payload
  assert.deepEqual(tr.filter((m) => m.from === 'customer').map((m) => m.text), ['I lost my card', '1234', 'Yes, block it']);
  const sent = await page.evaluate(() => window.__sent.map((s) => JSON.parse(s)).filter((f) => f.type === 'message').map((f) => f.text));
  assert.deepEqual(sent, ['I lost my card', '1234', '/affirm']);
  assert.equal(await page.locator('.quick button').count(), 0, 'quick replies are gone once used');
  assert.ok(await page.evaluate(() => window.__typingSeen), 'typing indicator never showed');
  assertNoDuplicates(tr);
  await shot(page, 'phone-block-card-en');
  await context.close();
});

test('block a lost card in Chinese; IME Enter does not send', async () => {
  const { context, page } = await open({ locale: 'zh-CN' });
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  await botSays(page, '您好');
  assert.equal(await page.getAttribute('#input', 'placeholder'), '请输入消息…');
  // Enter while an IME is composing picks a candidate; it must not send.
  // Chromium's own IME path (CDP), then Safari's order: the committing Enter
  // arrives after compositionend, as keyCode 229.
  await page.locator('#input').focus();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Input.imeSetComposition', { text: 'wodekadiule', selectionStart: 11, selectionEnd: 11 });
  await page.keyboard.press('Enter');
  await cdp.send('Input.insertText', { text: '我的卡丢了' });
  await page.evaluate(() => {
    document.getElementById('input').dispatchEvent(new KeyboardEvent('keydown',
      { key: 'Enter', code: 'Enter', keyCode: 229, bubbles: true, cancelable: true }));
  });
  await page.waitForTimeout(300);
  assert.equal(await page.locator('#log .msg.from-customer').count(), 0, 'Enter during IME composition sent the message');
  assert.match(await page.inputValue('#input'), /我的卡丢了/);
  await say(page, '我的卡丢了');
  await botSays(page, '后四位');
  await say(page, '尾号1234');
  await botSays(page, '确认冻结尾号 1234 的银行卡吗');
  await page.getByRole('button', { name: '确认冻结' }).click();
  await botSays(page, '已为您冻结尾号 1234 的银行卡，参考编号');
  await settled(page);
  const tr = await transcript(page);
  assert.deepEqual(tr.filter((m) => m.from === 'customer').map((m) => m.text), ['我的卡丢了', '尾号1234', '确认冻结']);
  assertNoDuplicates(tr);
  // the hello asked for Chinese
  const hello = await page.evaluate(() => window.__sent.map((s) => JSON.parse(s)).find((f) => f.type === 'hello'));
  assert.equal(hello.profile.language, 'zh');
  await shot(page, 'phone-block-card-zh');
  await context.close();
});

test('language toggle switches the interface and the next conversation', async () => {
  const { context, page } = await open();
  await page.getByRole('button', { name: '中文' }).click();
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await page.getAttribute('.lang-btn[data-lang="zh"]', 'aria-pressed'), 'true');
  assert.equal(await page.textContent('#send'), '发送');
  await page.getByRole('button', { name: 'EN', exact: true }).click();
  assert.equal(await page.textContent('#send'), 'Send');
  await context.close();
});

test('FAQ answers in English and Chinese', async () => {
  const { context, page } = await open();
  await say(page, 'What are your opening hours?');
  await botSays(page, 'Monday to Friday');
  await say(page, '营业时间');
  await botSays(page, '周一至周五');
  await settled(page);
  assertNoDuplicates(await transcript(page));
  await context.close();
});

// An agent account through the admin API (loopback without an admin token may),
// logged in: its token.  Agents act on conversations over REST here.
async function agentToken() {
  const id = 'qa' + Math.random().toString(16).slice(2, 10);
  const json = { 'content-type': 'application/json' };
  const post = async (path, body, want, headers = {}) => {
    const r = await fetch(BASE + path, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
    const text = await r.text();
    assert.equal(r.status, want, `${path}: ${text}`);
    return JSON.parse(text);
  };
  await post('/v1/admin/agents', { id, name: 'Li', password: 'widget-test-pw', skills: ['general'], languages: ['en', 'zh'] }, 201);
  const { token } = await post('/v1/agents/login', { agent_id: id, password: 'widget-test-pw' }, 200);
  return (path, body) => post(path, body || {}, 200, { authorization: `Bearer ${token}` });
}

async function cidOf(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('kefu.chat.cid')));
}

// Runs before the next test on purpose: it needs the English general queue
// empty (that test leaves its conversations waiting); it empties it again.
test('waiting for a human: the queue banner shows the position, follows it live, goes when an agent joins', async () => {
  const a = await open();
  const banner = a.page.locator('#queue');
  assert.equal(await banner.isVisible(), false, 'a banner before any handoff');
  assert.equal(await banner.getAttribute('aria-live'), 'polite');
  await say(a.page, 'I want to talk to a human agent');
  await a.page.locator('#queue[data-position="1"]').waitFor({ timeout: T });
  assert.match(await banner.textContent(), /^You are number 1 in the queue · about \d+ min$/);
  const [bq, iq] = await Promise.all([banner.boundingBox(), a.page.locator('#input').boundingBox()]);
  assert.ok(bq.height > 0 && bq.y + bq.height <= iq.y, `banner not above the input: ${JSON.stringify([bq, iq])}`);
  const frame = await a.page.evaluate(() => window.__received.map((l) => l.replace(/^#\d+ /, ''))
    .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((f) => f.type === 'queue'));
  assert.equal(frame.position, 1, JSON.stringify(frame));
  await shot(a.page, 'phone-queue');
  // a reload keeps it: the server sends the position only when it changes
  await a.page.reload();
  await online(a.page);
  await a.page.locator('#queue[data-position="1"]').waitFor({ timeout: T });

  // a second customer queues behind the first...
  const b = await open();
  const banner2 = b.page.locator('#queue');
  await say(b.page, 'I want to talk to a human agent');
  await b.page.locator('#queue[data-position="2"]').waitFor({ timeout: T });
  assert.match(await banner2.textContent(), /^You are number 2 in the queue · about \d+ min$/);
  await b.page.getByRole('button', { name: '中文' }).click();
  assert.match(await banner2.textContent(), /^您排在第 2 位（前面还有 1 位） · 约 \d+ 分钟$/);
  await b.page.getByRole('button', { name: 'EN', exact: true }).click();

  // ...an agent takes the first: its banner goes, the second moves up live.
  // (The widget ignores a notice within 2 s of a queue frame: a transfer's.)
  await a.page.waitForTimeout(2100);
  const agent = await agentToken();
  const cidA = await cidOf(a.page);
  await agent('/v1/agents/me/accept', { conversation_id: cidA });
  await a.page.locator('#log .msg.from-system .bubble', { hasText: 'joined' }).waitFor({ timeout: T });
  await banner.waitFor({ state: 'hidden', timeout: T });
  assert.equal(await banner.textContent(), '');
  await b.page.locator('#queue[data-position="1"]').waitFor({ timeout: T });
  assert.match(await banner2.textContent(), /^You are number 1 in the queue · about \d+ min$/);

  // the agent's message: its own label and look, never the assistant's
  await agent(`/v1/agents/conversations/${cidA}/messages`, { text: 'Hello, this is Li. <b>How</b> can I help?' });
  const msg = a.page.locator('#log .msg.from-agent').last();
  await msg.locator('.bubble', { hasText: 'this is Li' }).waitFor({ timeout: T });
  assert.equal(await msg.locator('.who').textContent(), 'Agent');
  assert.equal(await msg.locator('.bubble').textContent(), 'Hello, this is Li. <b>How</b> can I help?');
  assert.equal(await a.page.locator('#log b').count(), 0, 'agent text parsed as markup');
  const bg = (sel) => a.page.$eval(sel, (n) => getComputedStyle(n).backgroundColor);
  assert.notEqual(await bg('#log .msg.from-agent .bubble'), await bg('#log .msg.from-bot .bubble'));
  await shot(a.page, 'phone-agent');

  // the second customer leaves: the conversation ends and the banner with it
  await b.page.getByRole('button', { name: 'End chat' }).click();
  await b.page.getByRole('button', { name: 'Rate 4 out of 5' }).click();
  await b.page.locator('#log .note', { hasText: 'This conversation has ended' }).waitFor({ timeout: T });
  await banner2.waitFor({ state: 'hidden', timeout: T });
  assert.equal(await b.page.evaluate(() => localStorage.getItem('kefu.chat.queue')), null);
  await agent(`/v1/agents/conversations/${cidA}/close`);
  await a.page.locator('#log .note', { hasText: 'This conversation has ended' }).waitFor({ timeout: T });
  assert.equal(await banner.isVisible(), false);
  await a.context.close();
  await b.context.close();
});

test('asking for a human, in English and Chinese: the offer and the handoff notice', async () => {
  // Two conversations: once queued for a person the bot stays silent.
  const en = await open();
  await say(en.page, 'I want to talk to a person');
  await botSays(en.page, 'colleague'); // the demo bot has two wordings
  await en.page.locator('#log .note', { hasText: 'Connecting you with a colleague (general)' }).waitFor({ timeout: T });
  await en.context.close();
  const zh = await open();
  await say(zh.page, '我要人工客服');
  await botSays(zh.page, '同事');
  await zh.page.waitForFunction(() => document.querySelectorAll('#log .note').length === 1, null, { timeout: T });
  await zh.context.close();
});

test('an XSS payload is shown as text, never run', async () => {
  const { context, page } = await open();
  const payloads = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script><b>bold</b>'];
  for (const p of payloads) await say(page, p);
  await settled(page);
  const check = async () => {
    const mine = (await transcript(page)).filter((m) => m.from === 'customer').map((m) => m.text);
    for (const p of payloads) assert.ok(mine.includes(p), `${p} not shown as text: ${JSON.stringify(mine)}`);
    assert.equal(await page.locator('#log img, #log script, #log b').count(), 0, 'markup was parsed');
    assert.deepEqual(page.dialogs, [], 'a dialog fired');
    assert.equal(await page.evaluate(() => window.__xss === undefined), true);
  };
  await check();
  // the same after a reload from the cache, and after a replay from the server
  await page.reload();
  await online(page);
  await check();
  await page.evaluate(() => localStorage.removeItem('kefu.chat.transcript'));
  await page.reload();
  await online(page);
  await page.locator('#log .msg.from-customer .bubble', { hasText: '<script>' }).waitFor({ timeout: T });
  await check();
  await context.close();
});

test('reload mid-conversation restores the transcript without duplicates', async () => {
  const { context, page } = await open();
  await say(page, 'I lost my card');
  await botSays(page, 'last 4 digits');
  await say(page, '1234');
  await botSays(page, 'Block the card ending 1234?');
  await settled(page);
  const before = await transcript(page);
  assertNoDuplicates(before);

  // 1. from the local copy, resuming after its last seq
  await page.reload();
  await online(page);
  await settled(page);
  await page.waitForTimeout(300);
  assert.deepEqual(await transcript(page), before);
  const hello = await page.evaluate(() => window.__sent.map((s) => JSON.parse(s)).find((f) => f.type === 'hello'));
  assert.equal(hello.resume_after_seq, before[before.length - 1].seq);
  // the pending confirmation's buttons come back too, and still work
  await page.getByRole('button', { name: 'Yes, block it' }).click();
  await botSays(page, 'is blocked');
  await settled(page);
  const done = await transcript(page);
  assertNoDuplicates(done);

  // 2. without the local copy: everything replayed by the server, once
  await page.evaluate(() => localStorage.removeItem('kefu.chat.transcript'));
  await page.reload();
  await online(page);
  await page.waitForFunction((n) => document.querySelectorAll('#log .msg').length >= n, done.length, { timeout: T });
  await page.waitForTimeout(300);
  const replayed = await transcript(page);
  assert.deepEqual(replayed.map((m) => m.seq), done.map((m) => m.seq));
  assert.deepEqual(replayed.filter((m) => m.from !== 'customer'), done.filter((m) => m.from !== 'customer'));
  const hello2 = await page.evaluate(() => window.__sent.map((s) => JSON.parse(s)).find((f) => f.type === 'hello'));
  assert.equal(hello2.resume_after_seq, 0);
  await context.close();
});

test('a message typed while offline arrives once after the reconnect', async () => {
  const { context, page } = await open();
  await botSays(page, 'virtual assistant');
  await context.setOffline(true);
  await page.evaluate(() => window.__sockets[window.__sockets.length - 1].close());
  await page.locator('#status[data-state="offline"]').waitFor({ timeout: T });
  await say(page, 'What are your opening hours?');
  await page.waitForTimeout(1500);
  assert.equal(await page.locator('#log .msg.from-customer.pending').count(), 1, 'the message waits in the outbox');
  await context.setOffline(false);
  await online(page);
  await botSays(page, 'Monday to Friday');
  await settled(page);
  const tr = await transcript(page);
  if (process.env.DEBUG) console.log(await page.evaluate(() => window.__received.join('\n') + '\n' + window.__sent.join('\n')));
  assertNoDuplicates(tr);
  assert.equal(tr.filter((m) => m.text === 'What are your opening hours?').length, 1);
  assert.equal(tr.filter((m) => m.text.includes('Monday to Friday')).length, 1);
  const db = await stored(page);
  assert.equal(db.filter((m) => m.text === 'What are your opening hours?').length, 1, JSON.stringify(db));
  assert.ok(await page.evaluate(() => window.__sockets.length) >= 2);
  await context.close();
});

test('a socket lost before the ack: resent with the same id, stored and answered once', async () => {
  const { context, page } = await open();
  await botSays(page, 'virtual assistant');
  await page.evaluate(() => { window.__dropAfterMessage = true; });
  await say(page, 'I lost my card');
  await botSays(page, 'last 4 digits');
  await settled(page);
  await page.waitForTimeout(500);
  const sent = await page.evaluate(() => window.__sent.map((s) => JSON.parse(s)).filter((f) => f.type === 'message'));
  if (process.env.DEBUG) console.log(await page.evaluate(() => window.__received.join('\n') + '\n' + window.__sent.join('\n')));
  assert.equal(sent.length, 2, 'the message was not sent again after the reconnect');
  assert.equal(new Set(sent.map((f) => f.client_msg_id)).size, 1, 'a resend must reuse the client_msg_id');
  assert.ok(await page.evaluate(() => window.__sockets.length) >= 2);
  const tr = await transcript(page);
  assertNoDuplicates(tr);
  assert.equal(tr.filter((m) => m.text === 'I lost my card').length, 1);
  assert.equal(tr.filter((m) => m.text.includes('last 4 digits')).length, 1);
  const db = await stored(page);
  assert.equal(db.filter((m) => m.text === 'I lost my card').length, 1, JSON.stringify(db));
  assert.equal(db.filter((m) => m.text.includes('last 4 digits')).length, 1, JSON.stringify(db));
  await context.close();
});

test('keyboard only: Tab reaches the input, Shift+Enter is a new line, Enter sends, focus is visible', async () => {
  const { context, page } = await open();
  await page.keyboard.press('Tab');
  let guard = 0;
  while (await page.evaluate(() => document.activeElement && document.activeElement.id) !== 'input' && guard++ < 20) {
    await page.keyboard.press('Tab');
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), 'input');
  await page.keyboard.type('line one');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('line two');
  assert.equal(await page.inputValue('#input'), 'line one\nline two');
  await page.keyboard.press('Enter');
  await page.locator('#log .msg.from-customer .bubble', { hasText: 'line two' }).waitFor({ timeout: T });
  await settled(page);
  await page.keyboard.press('Tab'); // to the send button
  const outline = await page.evaluate(() => {
    const s = getComputedStyle(document.activeElement);
    return { id: document.activeElement.id, style: s.outlineStyle, width: s.outlineWidth };
  });
  assert.equal(outline.id, 'send');
  assert.notEqual(outline.style, 'none');
  assert.equal(await page.getAttribute('#log', 'aria-live'), 'polite');
  await context.close();
});

test('rating ends the conversation; the next message starts a new one', async () => {
  const { context, page } = await open();
  await say(page, 'thanks');
  await settled(page);
  await page.getByRole('button', { name: 'End chat' }).click();
  await page.getByRole('button', { name: 'Rate 5 out of 5' }).click();
  await page.locator('#rate-title', { hasText: 'You rated this conversation 5 out of 5' }).waitFor({ timeout: T });
  await page.locator('#log .note', { hasText: 'This conversation has ended' }).waitFor({ timeout: T });
  const rate = await page.evaluate(() => window.__sent.map((s) => JSON.parse(s)).find((f) => f.type === 'rate'));
  assert.deepEqual(rate, { type: 'rate', csat: 5 });
  const oldCid = await page.evaluate(() => JSON.parse(localStorage.getItem('kefu.chat.cid')));
  await say(page, 'What are your opening hours?');
  await botSays(page, 'Monday to Friday');
  await settled(page);
  const newCid = await page.evaluate(() => JSON.parse(localStorage.getItem('kefu.chat.cid')));
  assert.notEqual(newCid, oldCid);
  assert.equal(await page.locator('#rate').isHidden(), true);
  assert.equal(await page.locator('#log .divider').count(), 1);
  await context.close();
});

test('no script errors on any page', () => {
  // the browser's own log lines about sockets refused while offline are expected
  const errors = pages.flatMap((p) => p.errors).filter((e) => !/WebSocket connection to .* failed/.test(e));
  assert.deepEqual(errors, []);
});
