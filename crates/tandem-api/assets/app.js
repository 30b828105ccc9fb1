// tandem dashboard: plain JavaScript against /api/v1 with the user's
// credentials (kept in sessionStorage for this tab only). Live counts and
// the cluster come from the server-sent event stream /api/v1/events, read
// with fetch so that the Authorization header can be sent.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY = "tandem-auth";
let auth = sessionStorage.getItem(KEY);
let stream = null;
let lastCalls = null;

function authHeader(user, password) {
  if (!user) return "Bearer " + password;
  const bytes = new TextEncoder().encode(user + ":" + password);
  return "Basic " + btoa(String.fromCharCode(...bytes));
}

async function api(method, path, body) {
  const headers = { "Authorization": auth, "X-Tandem-Dashboard": "1" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) { logout(); throw new Error("signed out"); }
  if (!res.ok) {
    let detail = res.statusText;
    try { const p = await res.json(); detail = p.detail + (p.field ? " (" + p.field + ")" : ""); } catch (_) {}
    throw new Error(detail);
  }
  return res;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells) {
  const tr = el("tr");
  for (const c of cells) {
    const td = el("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "–" : String(c);
    tr.appendChild(td);
  }
  return tr;
}

function time(ms) { return ms ? new Date(ms).toLocaleString() : "–"; }

// ---- sign in / out ----
async function login(e) {
  e.preventDefault();
  auth = authHeader($("login-user").value.trim(), $("login-password").value);
  try {
    const res = await api("GET", "/api/v1/whoami");
    sessionStorage.setItem(KEY, auth);
    start(await res.json());
  } catch (err) {
    $("login-error").textContent = err.message === "signed out" ? "wrong user, password or token" : err.message;
  }
}

function logout() {
  sessionStorage.removeItem(KEY);
  auth = null;
  if (stream) { stream.abort(); stream = null; }
  $("app").hidden = true;
  $("login").hidden = false;
}

function start(me) {
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").textContent = me.name + " (" + me.role + ") on " + me.node;
  route();
  live();
}

// ---- pages ----
function route() {
  const page = (location.hash || "#overview").slice(1);
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== "page-" + page;
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (page === "extensions") loadExtensions();
  if (page === "calls") loadCalls();
  if (page === "cdrs") loadCdrs();
}

async function loadExtensions() {
  try {
    const page = await (await api("GET", "/api/v1/extensions?limit=1000")).json();
    $("ext-total").textContent = page.total + " in all";
    const rows = $("ext-rows");
    rows.replaceChildren();
    for (const x of page.items) {
      const del = el("button", "delete", "danger");
      del.addEventListener("click", async () => {
        if (!confirm("Delete extension " + x.number + " and its registrations?")) return;
        try { await api("DELETE", "/api/v1/extensions/" + encodeURIComponent(x.number) + "?revision=" + x.revision); loadExtensions(); }
        catch (err) { $("ext-error").textContent = err.message; }
      });
      rows.appendChild(row([x.number, x.display_name, x.registrations, x.realm, del]));
    }
  } catch (err) { $("ext-error").textContent = err.message; }
}

async function createExtension(e) {
  e.preventDefault();
  $("ext-error").textContent = "";
  const body = { number: $("ext-number").value.trim(), password: $("ext-password").value };
  const name = $("ext-name").value.trim();
  if (name) body.display_name = name;
  try {
    await api("POST", "/api/v1/extensions", body);
    $("ext-form").reset();
    loadExtensions();
  } catch (err) { $("ext-error").textContent = err.message; }
}

async function loadCalls() {
  const page = await (await api("GET", "/api/v1/calls?limit=1000")).json();
  const rows = $("call-rows");
  rows.replaceChildren();
  for (const c of page.items) rows.appendChild(row([c.caller, c.callee, c.state, c.duration_secs, c.owner]));
  if (!page.items.length) rows.appendChild(row(["no calls in progress", "", "", "", ""]));
}

function cdrQuery() {
  const q = new URLSearchParams();
  const ext = $("cdr-ext").value.trim();
  if (ext) q.set("extension", ext);
  if ($("cdr-from").value) q.set("from_ms", String(new Date($("cdr-from").value).getTime()));
  if ($("cdr-to").value) q.set("to_ms", String(new Date($("cdr-to").value).getTime()));
  return q;
}

async function loadCdrs(e) {
  if (e) e.preventDefault();
  $("cdr-error").textContent = "";
  try {
    const q = cdrQuery();
    q.set("limit", "200");
    const page = await (await api("GET", "/api/v1/cdrs?" + q)).json();
    const rows = $("cdr-rows");
    rows.replaceChildren();
    for (const c of page.items) {
      rows.appendChild(row([time(c.end_ms), c.caller, c.callee, (c.duration_ms / 1000).toFixed(1), c.end_cause, c.status, c.node]));
    }
  } catch (err) { $("cdr-error").textContent = err.message; }
}

async function exportCdrs() {
  try {
    const q = cdrQuery();
    q.set("format", "csv");
    const blob = await (await api("GET", "/api/v1/cdrs?" + q)).blob();
    const a = el("a");
    a.href = URL.createObjectURL(blob);
    a.download = "cdrs.csv";
    a.click();
    URL.revokeObjectURL(a.href);
  } catch (err) { $("cdr-error").textContent = err.message; }
}

// ---- live view ----
function render(snap) {
  const c = snap.counts;
  $("c-registrations").textContent = c.registrations;
  $("c-calls").textContent = c.calls_early + c.calls_confirmed;
  $("c-extensions").textContent = c.extensions;
  if (lastCalls) {
    const secs = Math.max((snap.at_ms - lastCalls.at) / 1000, 0.001);
    $("c-cps").textContent = ((c.calls_started_total - lastCalls.total) / secs).toFixed(1);
  }
  lastCalls = { at: snap.at_ms, total: c.calls_started_total };
  const cl = snap.cluster;
  if (!cl) { $("cluster-summary").textContent = "cluster unavailable: " + snap.cluster_error; return; }
  const holders = cl.floating_ip_holders.length ? cl.floating_ip_holders.join(", ") : "nobody";
  $("cluster-summary").textContent =
    (cl.leader ? "Leader " + cl.leader.node + " (epoch " + cl.leader.epoch + ")" : cl.nodes.length === 1 && cl.nodes[0].role === "standalone" ? "Single node" : "No leader") +
    (cl.floating_ip ? " · floating IP " + cl.floating_ip + " held by " + holders : "") +
    " · revision " + cl.revision;
  const nodes = $("nodes");
  nodes.replaceChildren();
  for (const n of cl.nodes) {
    const health = el("span", n.healthy ? "ok" : "SICK", n.healthy ? "ok" : "bad");
    const fip = n.holds_floating_ip ? el("span", "holds " + (cl.floating_ip || ""), "holder") : "–";
    nodes.appendChild(row([n.node, n.role, health, fip, n.draining ? "yes" : "no", n.replication_lag_revs, (n.sip || []).join(" ")]));
  }
  const tl = $("timeline");
  tl.replaceChildren();
  for (const ev of cl.events.slice().reverse()) {
    const li = el("li");
    li.appendChild(el("span", new Date(ev.at_ms).toLocaleTimeString() + "." + String(ev.at_ms % 1000).padStart(3, "0"), "muted"));
    li.appendChild(el("span", ev.event, "event"));
    li.appendChild(el("span", ev.node + " " + JSON.stringify(ev.detail)));
    tl.appendChild(li);
  }
  if (!cl.events.length) tl.appendChild(el("li", "no events", "muted"));
}

async function live() {
  if (stream) stream.abort();
  stream = new AbortController();
  const mine = stream;
  while (!mine.signal.aborted) {
    try {
      const res = await fetch("/api/v1/events", { headers: { "Authorization": auth, "X-Tandem-Dashboard": "1" }, signal: mine.signal });
      if (res.status === 401) { logout(); return; }
      $("live").textContent = "live"; $("live").classList.add("on");
      const reader = res.body.getReader();
      const text = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += text.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
          if (data && frame.includes("event: snapshot")) render(JSON.parse(data));
        }
      }
    } catch (_) { /* reconnect below */ }
    $("live").textContent = "offline"; $("live").classList.remove("on");
    if (!mine.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("ext-form").addEventListener("submit", createExtension);
  $("cdr-form").addEventListener("submit", loadCdrs);
  $("cdr-csv").addEventListener("click", exportCdrs);
  window.addEventListener("hashchange", route);
  if (auth) {
    try { start(await (await api("GET", "/api/v1/whoami")).json()); return; } catch (_) { /* sign in again */ }
  }
  logout();
});
