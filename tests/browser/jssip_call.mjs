#!/usr/bin/env node
// Two JsSIP phones in headless Chromium against a running tandem.
//
//   node jssip_call.mjs ws://127.0.0.1:PORT      (or TANDEM_WS_URL=...)
//
// Phones 1000 and 1001 (passwords pw-1000, pw-1001, realm tandem, domain
// 127.0.0.1) register over the WebSocket; then
//   1. 1000 calls 1001, which answers; the call is confirmed on both sides,
//      media (ICE + DTLS-SRTP over loopback) connects and audio packets flow
//      both ways; after ~2 s 1000 hangs up and 1001 sees 'ended' (BYE);
//   2. 1000 calls 1001, which rings (180) without answering; 1000 cancels
//      and 1001 sees 'failed' with cause Canceled;
// and both unregister. The last line printed is a JSON report; the exit
// status is 0 only if every step passed. The whole run is bounded by
// --timeout-ms (default 60000).
//
// Options (or environment): --chromium PATH (CHROMIUM, default
// /usr/bin/chromium), --domain (TANDEM_DOMAIN, 127.0.0.1), --realm
// (TANDEM_REALM, tandem), --timeout-ms (JSSIP_TIMEOUT_MS), --hold-ms (2000),
// --no-media (only SIP-level checks; JSSIP_NO_MEDIA=1), --trace (print the
// JsSIP SIP trace and page console even on success; JSSIP_TRACE=1).

import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { bundleJsSIP } from './bundle.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const T0 = Date.now();

// ---- options ---------------------------------------------------------------

function parseArgs(argv) {
  const o = {
    ws: process.env.TANDEM_WS_URL || null,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    domain: process.env.TANDEM_DOMAIN || '127.0.0.1',
    realm: process.env.TANDEM_REALM || 'tandem',
    timeoutMs: Number(process.env.JSSIP_TIMEOUT_MS || 60000),
    holdMs: 2000,
    media: process.env.JSSIP_NO_MEDIA !== '1',
    trace: process.env.JSSIP_TRACE === '1',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--chromium') o.chromium = val();
    else if (a === '--domain') o.domain = val();
    else if (a === '--realm') o.realm = val();
    else if (a === '--timeout-ms') o.timeoutMs = Number(val());
    else if (a === '--hold-ms') o.holdMs = Number(val());
    else if (a === '--no-media') o.media = false;
    else if (a === '--trace') o.trace = true;
    else if (a.startsWith('ws://') || a.startsWith('wss://')) o.ws = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!o.ws) throw new Error('usage: jssip_call.mjs ws://HOST:PORT (or TANDEM_WS_URL)');
  if (!(o.timeoutMs > 0 && o.timeoutMs <= 60000)) throw new Error('--timeout-ms must be in 1..60000');
  return o;
}

// ---- report ----------------------------------------------------------------

const result = {
  ok: false,
  ws: null,
  registered: [],
  confirmed: false,
  confirmed_by: [],
  ended_by: null,
  ended_cause: null,
  cancel_ok: false,
  cancel_cause: null,
  unregistered: [],
  media: null,
  call_ids: {},
  timings_ms: {},
  error: null,
};

const log = (msg) => process.stderr.write(`[jssip ${((Date.now() - T0) / 1000).toFixed(2)}s] ${msg}\n`);
const mark = (name) => {
  result.timings_ms[name] = Date.now() - T0;
};

// ---- event plumbing ----------------------------------------------------------

const PHONES = [];

class Phone {
  constructor(user, page) {
    PHONES.push(this);
    this.user = user;
    this.page = page;
    this.events = [];
    this.waiters = [];
    this.console = [];
  }

  push(ev) {
    this.events.push(ev);
    const brief = Object.entries(ev)
      .filter(([k]) => k !== 'type' && k !== 'at' && k !== 'call_id')
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    log(`${this.user}: ${ev.type} ${brief}`);
    for (const w of [...this.waiters]) {
      if (w.pred(ev)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(ev);
      } else if (w.fail && w.fail(ev)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.reject(new Error(`${this.user}: ${w.what}: got ${JSON.stringify(ev)}`));
      }
    }
  }

  /**
   * Resolves with the first event (already seen or to come) matching
   * `pred`; rejects on an event matching `fail` or after `ms`.
   */
  waitFor(what, pred, ms, fail) {
    const seen = this.events.find((e) => pred(e) || (fail && fail(e)));
    if (seen && pred(seen)) return Promise.resolve(seen);
    if (seen) return Promise.reject(new Error(`${this.user}: ${what}: got ${JSON.stringify(seen)}`));
    return new Promise((resolve, reject) => {
      const w = { what, pred, fail, resolve, reject };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          reject(new Error(`${this.user}: timed out after ${ms} ms waiting for ${what}`));
        }
      }, ms).unref();
    });
  }

  eval(fn, arg) {
    return this.page.evaluate(fn, arg);
  }
}

const sessionEvent = (type, session, extra) => (ev) =>
  ev.type === type && ev.session === session && (!extra || extra(ev));
const sessionFailure = (session) => (ev) =>
  (ev.type === 'failed' || ev.type === 'ended' || ev.type === 'error') && ev.session === session;

/** `promise`, or a rejection as soon as `phone`'s `session` fails or ends. */
function unlessCallFails(phone, session, promise) {
  const failure = new Promise((_, reject) => {
    phone
      .waitFor('call failure', sessionFailure(session), 120000)
      .then((ev) => reject(new Error(`${phone.user}: call failed: ${JSON.stringify(ev)}`)), () => {});
  });
  return Promise.race([promise, failure]);
}

// ---- the page ----------------------------------------------------------------

/** The `debug` package's console line without its CSS colour arguments. */
function plainConsoleText(text) {
  return text.replace(/%c/g, '').replace(/(\s*color: (#[0-9A-Fa-f]{3,6}|inherit))+\s*$/, '');
}

function startServer() {
  const files = {
    '/': {
      type: 'text/html',
      body:
        '<!doctype html><meta charset="utf-8"><title>tandem phone</title>' +
        '<script src="/jssip.js"></script><script src="/phone.js"></script><p>phone</p>',
    },
    '/jssip.js': { type: 'text/javascript', body: bundleJsSIP(HERE) },
    '/phone.js': { type: 'text/javascript', body: fs.readFileSync(path.join(HERE, 'phone.js'), 'utf8') },
  };
  const server = http.createServer((req, res) => {
    const f = files[req.url.split('?')[0]];
    if (!f) {
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': `${f.type}; charset=utf-8`, 'cache-control': 'no-store' });
    res.end(f.body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  // Media between the two phones on loopback only: gather 127.0.0.1
  // candidates (WebRTC ignores loopback otherwise) and never hide them
  // behind mDNS names (which would need multicast look-ups).
  '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

// ---- the scenarios ------------------------------------------------------------

async function run(o, cleanup) {
  result.ws = o.ws;
  // Outside a network namespace of its own (the Rust test makes one),
  // Chromium also pairs this machine's other addresses with the peer's
  // loopback candidates: media still stays inside the machine, but not on
  // loopback addresses alone.
  const isolated = Object.values(os.networkInterfaces()).flat().every((i) => i.internal);
  if (!isolated) log('warning: non-loopback interfaces are visible; run in a network namespace of its own for loopback-only media');
  result.media = { required: o.media, isolated };
  if (!fs.existsSync(o.chromium)) {
    throw new Error(`Chromium not found at ${o.chromium}: install the Debian package 'chromium'`);
  }
  const server = await startServer();
  cleanup.push(() => new Promise((r) => server.close(() => r())));
  const origin = `http://127.0.0.1:${server.address().port}/`;

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-chromium-'));
  cleanup.push(() => fs.rmSync(userDataDir, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: o.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 20000,
  });
  cleanup.unshift(() => context.close());
  mark('browser_started');

  const phones = {};
  for (const user of ['1000', '1001']) {
    const page = await context.newPage();
    const phone = new Phone(user, page);
    page.on('console', (m) => phone.console.push(`[${m.type()}] ${plainConsoleText(m.text())}`));
    page.on('pageerror', (e) => phone.push({ type: 'error', where: 'page', message: String(e) }));
    await page.exposeFunction('tandemReport', (ev) => phone.push(ev));
    await page.goto(origin);
    phones[user] = phone;
  }
  // JsSIP's names for the causes checked below: C.causes.BYE is
  // 'Terminated', C.causes.CANCELED is 'Canceled'.
  const causes = await phones['1000'].eval(() => ({ BYE: JsSIP.C.causes.BYE, CANCELED: JsSIP.C.causes.CANCELED }));
  const caller = phones['1000'];
  const callee = phones['1001'];

  // Registration.
  for (const p of Object.values(phones)) {
    await p.eval((cfg) => window.phone.start(cfg), {
      ws: o.ws,
      user: p.user,
      password: `pw-${p.user}`,
      realm: o.realm,
      domain: o.domain,
      debug: o.trace ? 'JsSIP:*' : 'JsSIP:Transport,JsSIP:WARN:*,JsSIP:ERROR:*',
    });
  }
  for (const p of Object.values(phones)) {
    await p.waitFor('registered', (e) => e.type === 'registered', 10000,
      (e) => e.type === 'registrationFailed' || e.type === 'disconnected');
    result.registered.push(p.user);
  }
  mark('registered');

  // 1. An answered call, hung up by the caller.
  await callee.eval(() => window.phone.setMode('answer'));
  const call = await caller.eval((t) => window.phone.call(t), `sip:1001@${o.domain}`);
  result.call_ids.answered = call.call_id;
  const incoming = await unlessCallFails(caller, call.session,
    callee.waitFor('incoming call', (e) => e.type === 'incoming' && e.call_id === call.call_id, 10000));
  await Promise.all([
    caller.waitFor('confirmed (caller)', sessionEvent('confirmed', call.session), 10000, sessionFailure(call.session)),
    callee.waitFor('confirmed (callee)', sessionEvent('confirmed', incoming.session), 10000, sessionFailure(incoming.session)),
  ]);
  result.confirmed = true;
  result.confirmed_by = ['1000', '1001'];
  mark('confirmed');
  const answeredAt = Date.now();

  // Media: both peer connections connected, audio packets received both ways.
  const media = result.media;
  try {
    await Promise.all([
      caller.waitFor('media connected (caller)', sessionEvent('pc', call.session, (e) => e.state === 'connected'), 10000,
        sessionEvent('pc', call.session, (e) => e.state === 'failed')),
      callee.waitFor('media connected (callee)', sessionEvent('pc', incoming.session, (e) => e.state === 'connected'), 10000,
        sessionEvent('pc', incoming.session, (e) => e.state === 'failed')),
    ]);
    media.connected = true;
    mark('media_connected');
  } catch (e) {
    media.connected = false;
    media.error = e.message;
    if (o.media) throw e;
  }
  // Hold the call ~2 s, then require RTP in both directions.
  const left = o.holdMs - (Date.now() - answeredAt);
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  media.caller = await caller.eval((s) => window.phone.stats(s), call.session);
  media.callee = await callee.eval((s) => window.phone.stats(s), incoming.session);
  media.audio_both_ways = media.caller.packetsReceived > 0 && media.callee.packetsReceived > 0;
  media.loopback_only = media.caller.loopback === true && media.callee.loopback === true;
  if (o.media && !media.audio_both_ways) {
    throw new Error(`no audio both ways: ${JSON.stringify(media)}`);
  }

  await caller.eval((s) => window.phone.terminate(s), call.session);
  const [ce, ee] = await Promise.all([
    caller.waitFor('ended (caller)', sessionEvent('ended', call.session), 10000, sessionEvent('failed', call.session)),
    callee.waitFor('ended (callee)', sessionEvent('ended', incoming.session), 10000, sessionEvent('failed', incoming.session)),
  ]);
  mark('hung_up');
  result.ended_cause = ee.cause;
  if (ce.by !== 'local' || ee.by !== 'remote' || ee.cause !== causes.BYE) {
    throw new Error(`unexpected hang-up: caller ${JSON.stringify(ce)}, callee ${JSON.stringify(ee)}`);
  }
  result.ended_by = 'caller';

  // 2. A call cancelled while it rings.
  await callee.eval(() => window.phone.setMode('ring'));
  const call2 = await caller.eval((t) => window.phone.call(t), `sip:1001@${o.domain}`);
  result.call_ids.cancelled = call2.call_id;
  const incoming2 = await unlessCallFails(caller, call2.session,
    callee.waitFor('second incoming call', (e) => e.type === 'incoming' && e.call_id === call2.call_id, 10000));
  await caller.waitFor('180 Ringing', sessionEvent('progress', call2.session, (e) => e.status === 180), 10000,
    sessionFailure(call2.session));
  mark('ringing');
  await caller.eval((s) => window.phone.terminate(s), call2.session);
  const [cf, ef] = await Promise.all([
    caller.waitFor('failed (caller)', sessionEvent('failed', call2.session), 10000, sessionEvent('confirmed', call2.session)),
    callee.waitFor('failed (callee)', sessionEvent('failed', incoming2.session), 10000, sessionEvent('confirmed', incoming2.session)),
  ]);
  mark('cancelled');
  result.cancel_cause = ef.cause;
  if (cf.cause !== causes.CANCELED || ef.by !== 'remote' || ef.cause !== causes.CANCELED) {
    throw new Error(`unexpected cancel: caller ${JSON.stringify(cf)}, callee ${JSON.stringify(ef)}`);
  }
  result.cancel_ok = true;

  // Unregister (REGISTER with Expires: 0) and close the sockets.
  for (const p of Object.values(phones)) await p.eval(() => window.phone.stop());
  for (const p of Object.values(phones)) {
    await p.waitFor('unregistered', (e) => e.type === 'unregistered', 10000, (e) => e.type === 'registrationFailed');
    result.unregistered.push(p.user);
  }
  mark('unregistered');
  result.ok = true;
}

// ---- main --------------------------------------------------------------------

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    result.error = e.message;
    console.log(JSON.stringify(result));
    process.exit(2);
  }
  const cleanup = [];
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hard timeout: not done within ${o.timeoutMs} ms`)), o.timeoutMs);
  });
  const running = run(o, cleanup);
  running.catch(() => {}); // reported through the race below
  try {
    await Promise.race([running, deadline]);
  } catch (e) {
    result.ok = false;
    result.error = e.message;
  }
  clearTimeout(timer);
  result.timings_ms.total = Date.now() - T0;

  // The SIP trace (JsSIP's Transport log) and page console: on failure, or
  // always with --trace.
  if (!result.ok || o.trace) {
    for (const p of PHONES) {
      process.stderr.write(`\n===== console of phone ${p.user} =====\n${p.console.join('\n')}\n`);
    }
  }
  // Close everything, bounded: a hung browser must not hang the test.
  await Promise.race([
    (async () => {
      for (const f of cleanup) {
        try {
          await f();
        } catch {
          // best effort
        }
      }
    })(),
    new Promise((r) => setTimeout(r, 5000).unref()),
  ]);
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

main();
