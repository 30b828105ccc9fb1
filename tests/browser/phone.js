// A JsSIP phone in a page, driven by jssip_call.mjs through Playwright.
// Every event of interest goes to Node through window.tandemReport (a
// function Playwright exposes); Node awaits them instead of polling.
(function () {
  'use strict';

  const report = (type, data) => {
    const ev = Object.assign({ type, at: Date.now() }, data || {});
    window.tandemReport(ev).catch(() => {});
  };

  const LOOPBACK = new Set(['127.0.0.1', '::1']);

  // Keeps only loopback ICE candidates, so that media never goes to any
  // other address of the machine (Chromium gathers loopback candidates only
  // with --allow-loopback-in-peer-connection).
  function loopbackOnly(sdp) {
    return sdp
      .split('\r\n')
      .filter((line) => !line.startsWith('a=candidate:') || LOOPBACK.has(line.split(' ')[4]))
      .join('\r\n');
  }

  const state = { ua: null, mode: 'answer', sessions: [], lastLocal: null };

  function watchSession(session, originator, callId) {
    const id = state.sessions.length;
    state.sessions.push(session);
    const base = { session: id, originator, call_id: callId };
    const on = (name, fn) =>
      session.on(name, (e) => {
        try {
          fn(e);
        } catch (err) {
          report('error', Object.assign({}, base, { where: name, message: String(err) }));
        }
      });

    const watchPc = (pc) => {
      report('peerconnection', base);
      pc.addEventListener('connectionstatechange', () =>
        report('pc', Object.assign({}, base, { state: pc.connectionState }))
      );
    };
    if (session.connection) watchPc(session.connection);
    else on('peerconnection', (e) => watchPc(e.peerconnection));

    on('sdp', (e) => {
      e.sdp = loopbackOnly(e.sdp);
    });
    on('progress', (e) =>
      report('progress', Object.assign({}, base, { status: e.response ? e.response.status_code : null }))
    );
    on('accepted', () => report('accepted', base));
    on('confirmed', () => report('confirmed', base));
    on('ended', (e) =>
      report('ended', Object.assign({}, base, { by: e.originator, cause: e.cause }))
    );
    on('failed', (e) =>
      report('failed', Object.assign({}, base, {
        by: e.originator,
        cause: e.cause,
        status: e.message && e.message.status_code ? e.message.status_code : null,
      }))
    );
    return id;
  }

  const MEDIA = { audio: true, video: false };

  window.phone = {
    /** Creates the user agent and registers it. */
    start(cfg) {
      // The SIP trace (every message sent and received) and JsSIP's
      // warnings go to the console, which Node prints if anything fails.
      JsSIP.debug.enable(cfg.debug);
      const socket = new JsSIP.WebSocketInterface(cfg.ws);
      const ua = new JsSIP.UA({
        sockets: [socket],
        uri: `sip:${cfg.user}@${cfg.domain}`,
        password: cfg.password,
        realm: cfg.realm,
        display_name: `Browser ${cfg.user}`,
        register: true,
        register_expires: 300,
        session_timers: false,
        user_agent: 'tandem-browser-test JsSIP',
      });
      state.ua = ua;
      ua.on('connected', () => report('connected'));
      ua.on('disconnected', (e) => report('disconnected', { code: e && e.code }));
      ua.on('registered', () => report('registered'));
      ua.on('unregistered', () => report('unregistered'));
      ua.on('registrationFailed', (e) =>
        report('registrationFailed', {
          cause: e.cause,
          status: e.response ? e.response.status_code : null,
        })
      );
      ua.on('newRTCSession', (e) => {
        // Emitted synchronously within ua.call() for outgoing sessions,
        // before the INVITE goes out: no event can be missed.
        const s = e.session;
        const id = watchSession(s, e.originator, e.request.call_id);
        if (e.originator === 'local') {
          state.lastLocal = id;
          return;
        }
        report('incoming', { session: id, call_id: e.request.call_id, from: s.remote_identity.uri.user });
        if (state.mode === 'answer') s.answer({ mediaConstraints: MEDIA, pcConfig: { iceServers: [] } });
      });
      ua.start();
    },

    /** 'answer': answer incoming calls at once; 'ring': let them ring. */
    setMode(mode) {
      state.mode = mode;
    },

    /** Calls `target`; returns the session's index and Call-ID. */
    call(target) {
      state.lastLocal = null;
      state.ua.call(target, { mediaConstraints: MEDIA, pcConfig: { iceServers: [] } });
      const id = state.lastLocal;
      return { session: id, call_id: state.sessions[id]._request.call_id };
    },

    /** Hangs up (BYE) or cancels (CANCEL) a session. */
    terminate(id) {
      state.sessions[id].terminate();
    },

    /** Media statistics of a session's peer connection. */
    async stats(id) {
      const pc = state.sessions[id].connection;
      if (!pc) return { connectionState: 'none' };
      const out = {
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
        packetsSent: 0,
        packetsReceived: 0,
        bytesReceived: 0,
        pair: null,
        loopback: false,
      };
      const report = await pc.getStats();
      const byId = new Map();
      report.forEach((r) => byId.set(r.id, r));
      report.forEach((r) => {
        if (r.type === 'outbound-rtp' && r.kind === 'audio') out.packetsSent += r.packetsSent || 0;
        if (r.type === 'inbound-rtp' && r.kind === 'audio') {
          out.packetsReceived += r.packetsReceived || 0;
          out.bytesReceived += r.bytesReceived || 0;
        }
        if (r.type === 'transport' && r.selectedCandidatePairId) {
          const p = byId.get(r.selectedCandidatePairId);
          const l = p && byId.get(p.localCandidateId);
          const rc = p && byId.get(p.remoteCandidateId);
          if (l && rc) {
            out.pair = `${l.address}:${l.port} <-> ${rc.address}:${rc.port} (${l.protocol})`;
            out.loopback = LOOPBACK.has(l.address) && LOOPBACK.has(rc.address);
          }
        }
      });
      return out;
    },

    /** Unregisters and stops the user agent. */
    stop() {
      if (state.ua) state.ua.stop();
    },
  };
})();
