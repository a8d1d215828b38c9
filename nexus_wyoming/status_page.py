"""The status page served at `/` of the metrics port: one self-contained HTML file, no external resources.

It reads `/api/status` of its own server and of the `status_peers`, lines the three
servers' records of one turn up into one row, and redraws every few seconds. All text
from the network is put in the page with `textContent` only, and the page's policy allows
no script but its own (by hash), so a device id cannot become markup.
"""

import base64
import hashlib

_SCRIPT = r"""
"use strict";
const STAGES = [["stt", "STT"], ["search", "Search"], ["llm_first_token", "LLM 1st token"],
                ["tts_first_audio", "TTS 1st audio"]];
const WINDOW_S = 3, SLACK_S = 0.5, REFRESH_MS = 3000, ROWS_PER_DEVICE = 8, TIMEOUT_MS = 2500;
const NS = "http://www.w3.org/2000/svg";

function el(tag, cls, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}
function svgEl(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}
const pad = (n) => String(n).padStart(2, "0");
function clock(t) {
  const d = new Date(t * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
function ms(v) { return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`; }
function uptime(s) {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
}
function peerUrl(peer) { return peer.startsWith(":") ? `${location.protocol}//${location.hostname}${peer}` : peer; }

async function fetchStatus(base) {
  const control = new AbortController();
  const timer = setTimeout(() => control.abort(), TIMEOUT_MS);
  const sent = Date.now();
  try {
    const response = await fetch(`${base}/api/status`, {cache: "no-store", signal: control.signal});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    const skew = (sent + Date.now()) / 2000 - Number(data.now);  // this server's clock → the browser's
    const turns = (Array.isArray(data.turns) ? data.turns : [])
      .map((t) => ({...t, started: t.started + skew, ended: t.ended + skew}));
    return {base, data, turns};
  } catch (err) {
    return {base, error: String(err && err.message || err)};
  } finally {
    clearTimeout(timer);
  }
}

// One row per turn: an intent turn takes the STT transcript sent up to WINDOW_S before it
// began, and the TTS request whose text arrived while it ran or up to WINDOW_S after it
// ended; device ids, when both sides know one, must be equal.
function compatible(a, b) { return !a.device || !b.device || a.device === b.device; }
const between = (x, low, high) => x >= low && x <= high;
const sttFits = (i) => (c) => compatible(c, i) && between(i.started - c.ended, -SLACK_S, WINDOW_S);
const ttsFits = (i) => (c) => compatible(c, i) && between(c.started, i.started - SLACK_S, i.ended + WINDOW_S);
function closest(candidates, used, fits, score) {
  let best = null;
  for (const c of candidates) if (!used.has(c.id) && fits(c) && (!best || score(c) < score(best))) best = c;
  if (best) used.add(best.id);
  return best;
}
function merge(turns) {
  const by = (kind) => turns.filter((t) => t.server === kind).sort((a, b) => a.started - b.started);
  const stt = by("stt"), tts = by("tts"), used = new Set();
  const rows = by("intent").map((i) => {
    const s = closest(stt, used, sttFits(i), (c) => Math.abs(i.started - c.ended));  // the latest transcript
    const t = closest(tts, used, ttsFits(i), (c) => c.started);  // the first TTS request
    return {stt: s, intent: i, tts: t};
  });
  for (const t of [...stt, ...tts]) if (!used.has(t.id)) rows.push({[t.server]: t});
  for (const row of rows) {
    const parts = [row.stt, row.intent, row.tts].filter(Boolean);
    row.device = (parts.find((p) => p.device) || {}).device || null;
    row.time = Math.min(...parts.map((p) => p.started));
    row.stages = Object.assign({}, ...parts.map((p) => p.stages || {}));
    row.ok = parts.every((p) => p.ok);
  }
  return rows.sort((a, b) => b.time - a.time);
}

function scaleOf(rows) {
  const top = Math.max(100, ...rows.flatMap((r) => STAGES.map(([k]) => r.stages[k] || 0)));
  for (const step of [100, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 30000, 60000]) if (top <= step) return step;
  return top;
}
function chart(row, scale) {
  const width = 430, label = 92, bar = 11, gap = 4, room = width - label - 64;
  const box = svgEl("svg", {width, height: STAGES.length * (bar + gap), class: "chart", role: "img"});
  STAGES.forEach(([key, name], n) => {
    const y = n * (bar + gap), value = row.stages[key];
    const text = svgEl("text", {x: 0, y: y + bar - 1, class: "label"});
    text.textContent = name;
    box.append(text, svgEl("rect", {x: label, y, width: room, height: bar, class: "track"}));
    if (value !== undefined) {
      const length = Math.max(1.5, room * Math.min(value, scale) / scale);
      box.append(svgEl("rect", {x: label, y, width: length, height: bar, class: `bar s-${key}`}));
    }
    const shown = svgEl("text", {x: label + room + 6, y: y + bar - 1, class: value === undefined ? "value none" : "value"});
    shown.textContent = value === undefined ? "—" : ms(value);
    box.append(shown);
  });
  return box;
}
function chip(text, cls) { return el("span", `chip ${cls || ""}`, text); }
function details(row) {
  const box = el("div", "details");
  const s = row.stt, i = row.intent, t = row.tts;
  if (s && s.ok) box.append(chip(`STT ${s.provider || "?"}${s.details.early ? " · early decode" : ""}`, "stt"));
  if (i) {
    const answeredBy = i.provider || (i.details.route || "?").replace(":", " ");  // "skill time" when no LLM
    const flags = [answeredBy, i.details.mode, i.details.cache_hit ? "cache hit" : null];
    box.append(chip(`intent ${flags.filter(Boolean).join(" · ")}`, "intent"));
    if (i.stages.total !== undefined) box.append(chip(`turn ${ms(i.stages.total)}`, "plain"));
    if (i.fallbacks) box.append(chip(`${i.fallbacks} fallback${i.fallbacks > 1 ? "s" : ""}`, "warn"));
  }
  if (t && t.ok) box.append(chip(`TTS ${t.provider || "?"}`, "tts"));
  for (const p of [s, i, t]) if (p && !p.ok) box.append(chip(`${p.server} error: ${p.error || "failed"}`, "bad"));
  return box;
}

function serverCard(result) {
  const d = result.data;
  const card = el("div", "card");
  if (!d) {
    card.append(el("h3", "", result.base || "this server"), el("span", "badge bad", "unreachable"),
                el("p", "muted", result.error));
    return card;
  }
  const health = d.health || {status: "unknown", reasons: []};
  card.append(el("h3", "", String(d.server), el("span", "muted", ` v${d.version}`)),
              el("span", `badge ${health.status === "ok" ? "ok" : "warn"}`, health.status));
  const list = el("ul", "reasons");
  for (const reason of health.reasons || []) list.append(el("li", "", reason));
  const used = Object.entries(d.providers_recent || {}).map(([k, v]) => `${k} ×${v}`).join(", ");
  const recent = used ? el("span", "muted", ` (recent: ${used})`) : "";
  card.append(list, el("p", "", "in use: ", el("b", "", d.provider || "—"), recent),
              el("p", "muted", `up ${uptime(Number(d.uptime_s) || 0)} · ${(d.turns || []).length} recent requests`));
  return card;
}

function render(results) {
  const servers = document.getElementById("servers"), devices = document.getElementById("devices");
  servers.replaceChildren(...results.map(serverCard));
  const seen = new Set(), turns = [];
  for (const r of results) for (const t of r.turns || []) if (!seen.has(t.id)) { seen.add(t.id); turns.push(t); }
  const rows = merge(turns), scale = scaleOf(rows), groups = new Map();
  for (const row of rows) {
    if (!groups.has(row.device)) groups.set(row.device, []);
    groups.get(row.device).push(row);
  }
  document.getElementById("scale").textContent = `bars: 0 – ${ms(scale)}`;
  const sections = [];
  for (const [device, list] of groups) {
    const count = el("span", "muted", ` · ${list.length} turn${list.length > 1 ? "s" : ""}`);
    const section = el("section", "device", el("h3", "", device === null ? "unknown device" : device, count));
    for (const row of list.slice(0, ROWS_PER_DEVICE)) {
      const time = el("div", "time", clock(row.time));
      section.append(el("div", `turn ${row.ok ? "" : "failed"}`, time, chart(row, scale), details(row)));
    }
    sections.push(section);
  }
  devices.replaceChildren(...(sections.length ? sections : [el("p", "muted empty", "No turns yet: talk to a satellite.")]));
  document.getElementById("updated").textContent = `updated ${clock(Date.now() / 1000)}`;
}

async function refresh() {
  try {
    const own = await fetchStatus(".");
    const peers = own.data && Array.isArray(own.data.peers) ? own.data.peers.filter((p) => typeof p === "string") : [];
    const others = await Promise.all(peers.map((p) => fetchStatus(peerUrl(p))));
    render([own, ...others]);
  } catch (err) {
    document.getElementById("updated").textContent = `page error: ${err}`;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}
refresh();
"""

_STYLE = """
:root { --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --muted: #6b7384; --line: #e3e6eb;
        --stt: #4e79a7; --search: #f28e2b; --llm: #59a14f; --tts: #b07aa1; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       background: var(--bg); color: var(--ink); }
header { display: flex; align-items: baseline; gap: 16px; padding: 14px 24px; background: #1d2330; color: #fff; }
header h1 { font-size: 18px; margin: 0; } header .muted { color: #aeb6c6; }
main { padding: 16px 24px; max-width: 1280px; }
h2 { font-size: 15px; margin: 18px 0 8px; display: flex; gap: 16px; align-items: baseline; }
#servers { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 12px; }
.card, .device { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card h3, .device h3 { margin: 0 0 6px; font-size: 15px; }
.card p { margin: 4px 0; overflow-wrap: anywhere; }
.reasons { margin: 4px 0; padding-left: 18px; color: #8a5a00; }
.muted { color: var(--muted); font-weight: normal; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.ok { background: #dff3e4; color: #1e6b34; } .badge.warn { background: #fff1d6; color: #8a5a00; }
.badge.bad { background: #fde2e1; color: #a4262c; }
.legend { display: flex; gap: 14px; font-size: 12px; font-weight: normal; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.device { margin-bottom: 12px; } .device h3 { overflow-wrap: anywhere; }
.turn { display: grid; grid-template-columns: 76px 440px 1fr; gap: 12px; align-items: center; padding: 6px 0;
        border-top: 1px solid var(--line); }
.turn.failed { background: #fff7f7; }
.time { font-variant-numeric: tabular-nums; color: var(--muted); }
.chart .label { font-size: 11px; fill: var(--muted); } .chart .value { font-size: 11px; fill: var(--ink); }
.chart .value.none { fill: #b7bcc6; } .chart .track { fill: #f0f2f5; }
.s-stt, .i-stt { fill: var(--stt); background: var(--stt); }
.s-search, .i-search { fill: var(--search); background: var(--search); }
.s-llm_first_token, .i-llm { fill: var(--llm); background: var(--llm); }
.s-tts_first_audio, .i-tts { fill: var(--tts); background: var(--tts); }
.details { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { padding: 1px 8px; border-radius: 10px; background: #eef1f5; font-size: 12px; overflow-wrap: anywhere; }
.chip.stt::before, .chip.intent::before, .chip.tts::before { content: ""; display: inline-block; width: 8px; height: 8px;
  border-radius: 50%; margin-right: 5px; background: var(--stt); }
.chip.intent::before { background: var(--llm); } .chip.tts::before { background: var(--tts); }
.chip.warn { background: #fff1d6; } .chip.bad { background: #fde2e1; color: #a4262c; }
footer { padding: 4px 24px 24px; color: var(--muted); font-size: 12px; max-width: 1280px; }
"""

_BODY = """<header><h1>Nexus Wyoming status</h1><span class="muted" id="updated">loading…</span>
<span class="muted">refreshes every 3 s</span></header>
<main>
<h2>Servers</h2><div id="servers"></div>
<h2>Recent turns by device <span class="legend"><span><i class="i-stt"></i>STT (audio-stop → transcript)</span>
<span><i class="i-search"></i>web search</span><span><i class="i-llm"></i>LLM first token</span>
<span><i class="i-tts"></i>TTS first audio</span><span class="muted" id="scale"></span></span></h2>
<div id="devices"><p class="muted">loading…</p></div>
</main>
<footer>How a row is assembled: the three servers each record their own part of a turn; an intent
turn is joined with the STT transcript sent at most 3 s before it began, and with the TTS request
whose text arrived while it ran or at most 3 s after its reply ended. When both records name a
device, the devices must match. Records nothing matched have rows of their own. Clocks of other
hosts are aligned to this browser's.</footer>"""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()

#: No script but ours, no resources from anywhere; fetch may reach the peer servers.
PAGE_HEADERS = (
    "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
    f"Content-Security-Policy: default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
    "connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n"
)

_PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Nexus Wyoming status</title>\n'
    f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_STYLE}</style></head>\n'
    f"<body>{_BODY}\n<script>{_SCRIPT}</script></body></html>\n"
).encode()


def page() -> bytes:
    """The whole page."""
    return _PAGE
