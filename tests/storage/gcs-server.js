#!/usr/bin/env node
// A loopback stand-in for Google Cloud Storage (JSON API subset) and the
// OAuth2 token endpoint, for the lib/storage tests. Only node:http and
// node:crypto. See docs/object-storage.md §1-2 and §4 for the rules it copies.
//
//   node gcs-server.js --pubkey sa.pub [--bucket NAME]... [--email ISS] [--kid KID]
//                      [--tls-key KEY.pem --tls-cert CERT.pem]   (https)
//                      [--aud URL]...  more accepted JWT audiences (Google's
//                      own token URLs, for clients that have them built in)
//
// Prints "listening <port>" on stdout once ready (port chosen by the OS).
// Token URL: http://127.0.0.1:<port>/token. Objects live in memory.
//
// Admin (test control, no auth), all under /_admin/:
//   POST /_admin/fault   {"kind":"status","code":503,"match":"chunk","count":2}
//        kinds: status (answer code), reset (drop the connection after half of
//        the body), short (persist only "keep" bytes of the next chunk,
//        rounded down to 256 KiB), drop-response (do the work, then drop the
//        connection without answering), expire-session (session → 410),
//        expire-token (invalidate every token, then handle: → 401)
//        "skip":N lets N matching requests pass first.
//        match: any|token|init|chunk|query|meta|media|list|upload|delete
//   POST /_admin/expire-tokens            every issued token becomes invalid
//   POST /_admin/token-lifetime {"seconds":N}
//   POST /_admin/down {"ms":N}            drop every non-admin connection for N ms
//   POST /_admin/max-results {"n":N}      list page size
//   POST /_admin/delay {"ms":N}           delay every chunk answer by N ms
//   POST /_admin/put?bucket=B&name=N      create an object (body = data)
//   GET  /_admin/tokens                   tokens issued (for leak checks)
//   GET  /_admin/stats                    counters (see `stats` below)
//   GET  /_admin/objects                  [{name,size,crc32c,creates}]
//   POST /_admin/reset-stats
'use strict';

const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const fs = require('node:fs');

const CHUNK = 256 * 1024;

// ---- arguments -------------------------------------------------------------
const args = process.argv.slice(2);
const opt = { buckets: [], auds: [] };
for (let i = 0; i < args.length; i++) {
  const k = args[i];
  const v = args[i + 1];
  if (k === '--pubkey') { opt.pubkey = fs.readFileSync(v, 'utf8'); i++; }
  else if (k === '--bucket') { opt.buckets.push(v); i++; }
  else if (k === '--email') { opt.email = v; i++; }
  else if (k === '--kid') { opt.kid = v; i++; }
  else if (k === '--aud') { opt.auds.push(v); i++; }
  else if (k === '--tls-key') { opt.tlsKey = fs.readFileSync(v); i++; }
  else if (k === '--tls-cert') { opt.tlsCert = fs.readFileSync(v); i++; }
  else { process.stderr.write(`gcs-server: unknown option ${k}\n`); process.exit(2); }
}
if (!opt.pubkey) { process.stderr.write('gcs-server: --pubkey is required\n'); process.exit(2); }
if (opt.buckets.length === 0) opt.buckets.push('test-bucket');

// ---- state -----------------------------------------------------------------
const buckets = new Map(opt.buckets.map((b) => [b, new Map()])); // bucket → name → object
const creates = new Map();      // "bucket/name" → number of successful creates
const sessions = new Map();     // upload_id → session
const tokens = new Map();       // token → expiry (ms)
let tokenLifetime = 3600;
let downUntil = 0;
let maxResults = 1000;
let faults = [];
let chunkDelay = 0;
const issued = [];
let port = 0;
const scheme = opt.tlsKey ? 'https' : 'http';
let generation = Date.now() * 1000;
const stats = { requests: 0, byKind: {}, tokenIssued: 0, tokenRejected: 0, status: {} };

// ---- CRC32C (Castagnoli), the same definition GCS uses ----------------------
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
function crc32c(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  const v = (c ^ 0xffffffff) >>> 0;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b.toString('base64');
}
const md5b64 = (buf) => crypto.createHash('md5').update(buf).digest('base64');

// ---- helpers -----------------------------------------------------------------
function gerror(res, code, message, reason) {
  const body = JSON.stringify({ error: { code, message, errors: [{ domain: 'global', reason: reason || 'invalid', message }] } });
  send(res, code, body, { 'Content-Type': 'application/json; charset=UTF-8' });
}
function send(res, code, body, headers) {
  stats.status[code] = (stats.status[code] || 0) + 1;
  res.writeHead(code, Object.assign({ 'Content-Length': Buffer.byteLength(body || '') }, headers || {}));
  res.end(body || '');
}
function resource(bucket, o) {
  return {
    kind: 'storage#object', id: `${bucket}/${o.name}/${o.generation}`, name: o.name, bucket,
    generation: String(o.generation), metageneration: '1', contentType: o.contentType,
    size: String(o.data.length), crc32c: o.crc32c, md5Hash: o.md5Hash,
    timeCreated: o.created, updated: o.created,
  };
}
function hashHeader(o) { return `crc32c=${o.crc32c},md5=${o.md5Hash}`; }
function b64urlDecode(s) { return Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64'); }
function takeFault(kind) {
  const i = faults.findIndex((f) => f.match === 'any' || f.match === kind ||
    (f.match === 'upload' && ['init', 'chunk', 'query'].includes(kind)));
  if (i < 0) return null;
  const f = faults[i];
  if (f.skip > 0) { f.skip--; return null; }
  f.count = (f.count || 1) - 1;
  if (f.count <= 0) faults.splice(i, 1);
  return f;
}
function bearerOk(req) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  if (!m) return false;
  const exp = tokens.get(m[1]);
  return exp !== undefined && exp > Date.now();
}

// ---- token endpoint (RFC 7523 jwt-bearer, Google's checks) ------------------
function tokenEndpoint(req, res, body) {
  const bad = (d) => { stats.tokenRejected++; send(res, 400, JSON.stringify({ error: 'invalid_grant', error_description: d }), { 'Content-Type': 'application/json' }); };
  if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] || '')) return bad('Bad content type');
  const form = new URLSearchParams(body.toString('utf8'));
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    stats.tokenRejected++;
    return send(res, 400, JSON.stringify({ error: 'unsupported_grant_type', error_description: 'Invalid grant_type' }), { 'Content-Type': 'application/json' });
  }
  const parts = (form.get('assertion') || '').split('.');
  if (parts.length !== 3) return bad('Invalid JWT');
  let hdr, claims;
  try { hdr = JSON.parse(b64urlDecode(parts[0])); claims = JSON.parse(b64urlDecode(parts[1])); } catch { return bad('Invalid JWT'); }
  if (hdr.alg !== 'RS256') return bad('Invalid JWT: alg');
  // kid is optional (Google's libraries send it, gtoken does not); when
  // present it must name the key.
  if (opt.kid && hdr.kid !== undefined && hdr.kid !== opt.kid) return bad('Invalid JWT: kid');
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), opt.pubkey, b64urlDecode(parts[2]));
  if (!ok) return bad('Invalid JWT Signature.');
  const now = Math.floor(Date.now() / 1000);
  if (!Number.isInteger(claims.iat) || !Number.isInteger(claims.exp)) return bad('Invalid JWT: iat/exp');
  if (claims.exp - claims.iat > 3600 || claims.exp < now - 60 || claims.iat > now + 60) {
    return bad('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
  }
  if (claims.aud !== `${scheme}://127.0.0.1:${port}/token` && !opt.auds.includes(claims.aud)) return bad('Invalid JWT: aud');
  if (opt.email && claims.iss !== opt.email) return bad('Invalid JWT: iss');
  const scopes = String(claims.scope || '').split(' ');
  if (!scopes.some((s) => /devstorage\.(read_write|full_control)$|cloud-platform$/.test(s))) {
    stats.tokenRejected++;
    return send(res, 400, JSON.stringify({ error: 'invalid_scope', error_description: 'Invalid OAuth scope' }), { 'Content-Type': 'application/json' });
  }
  const tok = 'ya29.test-' + crypto.randomBytes(24).toString('hex');
  tokens.set(tok, Date.now() + tokenLifetime * 1000);
  issued.push(tok);
  stats.tokenIssued++;
  send(res, 200, JSON.stringify({ access_token: tok, expires_in: tokenLifetime, token_type: 'Bearer' }), { 'Content-Type': 'application/json' });
}

// ---- object creation with the precondition and hash checks ------------------
function finalize(res, bucket, meta, data, ifGen, hashHdr) {
  const objs = buckets.get(bucket);
  const crc = crc32c(data);
  const md5 = md5b64(data);
  if (meta.crc32c && meta.crc32c !== crc) return gerror(res, 400, `Provided CRC32C "${meta.crc32c}" doesn't match calculated CRC32C "${crc}".`, 'invalid');
  if (meta.md5Hash && meta.md5Hash !== md5) return gerror(res, 400, `Provided MD5 hash "${meta.md5Hash}" doesn't match calculated MD5 hash "${md5}".`, 'invalid');
  if (hashHdr) {
    for (const kv of hashHdr.split(',')) {
      const [k, ...rest] = kv.trim().split('=');
      const v = rest.join('=');
      if (k === 'crc32c' && v !== crc) return gerror(res, 400, `Provided CRC32C "${v}" doesn't match calculated CRC32C "${crc}".`, 'invalid');
      if (k === 'md5' && v !== md5) return gerror(res, 400, `Provided MD5 hash "${v}" doesn't match calculated MD5 hash "${md5}".`, 'invalid');
    }
  }
  if (ifGen !== null && ifGen !== undefined) {
    const cur = objs.get(meta.name);
    const want = Number(ifGen);
    if ((want === 0 && cur) || (want !== 0 && (!cur || cur.generation !== want))) {
      return gerror(res, 412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
    }
  }
  const o = { name: meta.name, data, crc32c: crc, md5Hash: md5, contentType: meta.contentType || 'application/octet-stream', generation: ++generation, created: new Date().toISOString() };
  objs.set(meta.name, o);
  const key = `${bucket}/${meta.name}`;
  creates.set(key, (creates.get(key) || 0) + 1);
  return send(res, 200, JSON.stringify(resource(bucket, o)), { 'Content-Type': 'application/json; charset=UTF-8', 'x-goog-hash': hashHeader(o), 'x-goog-generation': String(o.generation) });
}

function validName(n) {
  return typeof n === 'string' && n.length > 0 && Buffer.byteLength(n) <= 1024 && !/[\r\n]/.test(n) && n !== '.' && n !== '..';
}

function parseMultipart(req, body) {
  const m = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] || '');
  if (!m) return null;
  const delim = Buffer.from(`--${m[1]}`);
  const parts = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    pos += delim.length;
    if (body.slice(pos, pos + 2).toString() === '--') break;
    const next = body.indexOf(delim, pos);
    if (next < 0) return null;
    const part = body.slice(pos + 2, next - 2); // skip CRLF after delimiter, CRLF before next
    const sep = part.indexOf('\r\n\r\n');
    if (sep < 0) return null;
    parts.push({ headers: part.slice(0, sep).toString(), body: part.slice(sep + 4) });
    pos = next;
  }
  return parts.length === 2 ? parts : null;
}

// ---- resumable session chunk -------------------------------------------------
function sessionPut(req, res, body, s, fault) {
  const cr = req.headers['content-range'] || '';
  const stat = /^bytes \*\/(\d+|\*)$/.exec(cr);
  const rng = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(cr);
  const rangeHdr = () => (s.data.length > 0 ? { Range: `bytes=0-${s.data.length - 1}` } : {});
  if (s.done) {
    const o = buckets.get(s.bucket).get(s.meta.name);
    if (o) return send(res, 200, JSON.stringify(resource(s.bucket, o)), { 'Content-Type': 'application/json; charset=UTF-8', 'x-goog-hash': hashHeader(o) });
    return gerror(res, 410, 'The upload session has ended.', 'gone');
  }
  if (stat) {
    if (stat[1] !== '*') {
      const total = Number(stat[1]);
      if (s.total !== null && s.total !== total) return gerror(res, 400, 'Total size mismatch', 'invalid');
      s.total = total;
      if (s.data.length === total) return finishSession(req, res, s);
    }
    return send(res, 308, '', rangeHdr());
  }
  if (!rng) return gerror(res, 400, 'Invalid Content-Range', 'invalid');
  const first = Number(rng[1]);
  const last = Number(rng[2]);
  const total = rng[3] === '*' ? null : Number(rng[3]);
  if (last < first || body.length !== last - first + 1) return gerror(res, 400, 'Content-Length does not match Content-Range', 'invalid');
  if (total !== null) {
    if (s.total !== null && s.total !== total) return gerror(res, 400, 'Total size mismatch', 'invalid');
    if (last >= total) return gerror(res, 400, 'Range past total', 'invalid');
    s.total = total;
  }
  if (first > s.data.length) return gerror(res, 400, `Invalid request. Content-Range start ${first} is past the persisted size ${s.data.length}.`, 'invalid');
  // Bytes already persisted are skipped; the rest is appended.
  let add = body.slice(s.data.length - first);
  const isFinal = s.total !== null && last + 1 === s.total;
  if (!isFinal) {
    // Non-final chunks: the server keeps only whole 256 KiB units.
    const keepTotal = Math.floor((s.data.length + add.length) / CHUNK) * CHUNK;
    add = add.slice(0, Math.max(0, keepTotal - s.data.length));
  }
  if (fault && fault.kind === 'short') {
    const keep = Math.floor(Math.min(fault.keep || 0, add.length) / CHUNK) * CHUNK;
    s.data = Buffer.concat([s.data, add.slice(0, keep)]);
    return send(res, 308, '', rangeHdr());
  }
  s.data = Buffer.concat([s.data, add]);
  if (s.total !== null && s.data.length === s.total) return finishSession(req, res, s);
  return send(res, 308, '', rangeHdr());
}

function finishSession(req, res, s) {
  finalize(res, s.bucket, s.meta, s.data, s.ifGen, req.headers['x-goog-hash']);
  s.done = res.statusCode === 200;
  // A hash mismatch or a failed precondition ends the session for good.
  if (res.statusCode === 400 || res.statusCode === 412) sessions.delete(s.id);
}

// ---- request router ----------------------------------------------------------
function classify(req, url) {
  const p = url.pathname;
  if (p === '/token') return 'token';
  if (p.startsWith('/upload/storage/v1/b/')) {
    if (req.method === 'POST') return 'init';
    if (req.method === 'PUT') return /^bytes \*\//.test(req.headers['content-range'] || '') ? 'query' : 'chunk';
    if (req.method === 'DELETE') return 'cancel';
  }
  if (/^\/storage\/v1\/b\/[^/]+\/o$/.test(p)) return 'list';
  if (/^\/storage\/v1\/b\/[^/]+\/o\//.test(p)) {
    if (req.method === 'DELETE') return 'delete';
    return url.searchParams.get('alt') === 'media' ? 'media' : 'meta';
  }
  return 'other';
}

function handle(req, res, body, kind, url, fault) {
  if (kind === 'token') return req.method === 'POST' ? tokenEndpoint(req, res, body) : gerror(res, 405, 'Method not allowed');
  const p = url.pathname;
  const sessId = url.searchParams.get('upload_id');
  // Session URIs authorise themselves (no bearer needed), like GCS.
  if (sessId && (kind === 'query' || kind === 'chunk' || kind === 'cancel')) {
    const s = sessions.get(sessId);
    if (!s) return gerror(res, 404, 'No such upload session', 'notFound');
    if (fault && fault.kind === 'expire-session') { sessions.delete(sessId); return gerror(res, 410, 'The upload session has expired', 'gone'); }
    if (kind === 'cancel') { sessions.delete(sessId); return send(res, 499, ''); }
    return sessionPut(req, res, body, s, fault);
  }
  if (!bearerOk(req)) return gerror(res, 401, 'Invalid Credentials', 'authError');
  const bm = /^\/(?:upload\/)?storage\/v1\/b\/([^/]+)\/o(?:\/(.*))?$/.exec(p);
  if (!bm) return gerror(res, 404, 'Not Found', 'notFound');
  const bucket = decodeURIComponent(bm[1]);
  const objs = buckets.get(bucket);
  if (!objs) return gerror(res, 404, 'The specified bucket does not exist.', 'notFound');
  const ifGen = url.searchParams.get('ifGenerationMatch');

  if (kind === 'init') {
    const type = url.searchParams.get('uploadType');
    if (type === 'media') {
      const name = url.searchParams.get('name');
      if (!validName(name)) return gerror(res, 400, 'Invalid object name', 'invalid');
      return finalize(res, bucket, { name, contentType: req.headers['content-type'] }, body, ifGen, req.headers['x-goog-hash']);
    }
    if (type === 'multipart') {
      const parts = parseMultipart(req, body);
      if (!parts) return gerror(res, 400, 'Invalid multipart request', 'invalid');
      let meta;
      try { meta = JSON.parse(parts[0].body.toString('utf8')); } catch { return gerror(res, 400, 'Invalid metadata', 'invalid'); }
      if (!meta.name) meta.name = url.searchParams.get('name');
      if (!validName(meta.name)) return gerror(res, 400, 'Invalid object name', 'invalid');
      const ct = /content-type:\s*([^\r\n]+)/i.exec(parts[1].headers);
      if (!meta.contentType && ct) meta.contentType = ct[1];
      return finalize(res, bucket, meta, parts[1].body, ifGen, req.headers['x-goog-hash']);
    }
    if (type === 'resumable') {
      let meta = {};
      if (body.length) { try { meta = JSON.parse(body.toString('utf8')); } catch { return gerror(res, 400, 'Invalid metadata', 'invalid'); } }
      if (url.searchParams.get('name')) meta.name = url.searchParams.get('name');
      if (!validName(meta.name)) return gerror(res, 400, 'Invalid object name', 'invalid');
      if (ifGen !== null && Number(ifGen) === 0 && objs.get(meta.name)) {
        return gerror(res, 412, 'At least one of the pre-conditions you specified did not hold.', 'conditionNotMet');
      }
      if (!meta.contentType && req.headers['x-upload-content-type']) meta.contentType = req.headers['x-upload-content-type'];
      const id = crypto.randomBytes(16).toString('hex');
      const len = req.headers['x-upload-content-length'];
      sessions.set(id, { id, bucket, meta, ifGen, data: Buffer.alloc(0), total: len !== undefined ? Number(len) : null, done: false });
      const loc = `${scheme}://127.0.0.1:${port}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(meta.name)}&upload_id=${id}`;
      return send(res, 200, '', { Location: loc });
    }
    return gerror(res, 400, 'Unknown uploadType', 'invalid');
  }
  if (kind === 'list') {
    const prefix = url.searchParams.get('prefix') || '';
    const names = [...objs.keys()].filter((n) => n.startsWith(prefix)).sort();
    const start = url.searchParams.get('pageToken') ? Number(Buffer.from(url.searchParams.get('pageToken'), 'base64').toString()) : 0;
    const n = Math.min(maxResults, Number(url.searchParams.get('maxResults') || maxResults));
    const page = names.slice(start, start + n);
    const out = { kind: 'storage#objects', items: page.map((nm) => resource(bucket, objs.get(nm))) };
    if (start + n < names.length) out.nextPageToken = Buffer.from(String(start + n)).toString('base64');
    return send(res, 200, JSON.stringify(out), { 'Content-Type': 'application/json; charset=UTF-8' });
  }
  const name = decodeURIComponent(bm[2] || '');
  const o = objs.get(name);
  if (kind === 'delete') {
    if (!o) return gerror(res, 404, 'No such object', 'notFound');
    objs.delete(name);
    return send(res, 204, '');
  }
  if (!o) return gerror(res, 404, `No such object: ${bucket}/${name}`, 'notFound');
  if (kind === 'media') {
    res.writeHead(200, { 'Content-Type': o.contentType, 'Content-Length': o.data.length, 'x-goog-hash': hashHeader(o), 'x-goog-generation': String(o.generation) });
    stats.status[200] = (stats.status[200] || 0) + 1;
    return res.end(o.data);
  }
  return send(res, 200, JSON.stringify(resource(bucket, o)), { 'Content-Type': 'application/json; charset=UTF-8' });
}

function admin(req, res, url, body) {
  const p = url.pathname;
  let j = {};
  if (p !== '/_admin/put') {
    try { if (body.length) j = JSON.parse(body.toString('utf8')); } catch { return send(res, 400, 'bad json'); }
  }
  const ok = (o) => send(res, 200, JSON.stringify(o || { ok: true }), { 'Content-Type': 'application/json' });
  if (p === '/_admin/fault') { faults.push(Object.assign({ match: 'any', count: 1 }, j)); return ok(); }
  if (p === '/_admin/expire-tokens') { tokens.clear(); return ok(); }
  if (p === '/_admin/token-lifetime') { tokenLifetime = j.seconds; return ok(); }
  if (p === '/_admin/down') { downUntil = Date.now() + j.ms; return ok(); }
  if (p === '/_admin/max-results') { maxResults = j.n; return ok(); }
  if (p === '/_admin/delay') { chunkDelay = j.ms; return ok(); }
  if (p === '/_admin/tokens') return ok(issued);
  if (p === '/_admin/put') {
    const b = url.searchParams.get('bucket');
    const data = body;
    const o = { name: url.searchParams.get('name'), data, crc32c: crc32c(data), md5Hash: md5b64(data), contentType: 'application/octet-stream', generation: ++generation, created: new Date().toISOString() };
    buckets.get(b).set(o.name, o);
    return ok();
  }
  if (p === '/_admin/stats') return ok(Object.assign({ faultsPending: faults.length, sessions: sessions.size }, stats));
  if (p === '/_admin/reset-stats') { stats.requests = 0; stats.byKind = {}; stats.tokenIssued = 0; stats.tokenRejected = 0; stats.status = {}; faults = []; return ok(); }
  if (p === '/_admin/objects') {
    const out = [];
    for (const [b, objs] of buckets) for (const o of objs.values()) out.push({ bucket: b, name: o.name, size: o.data.length, crc32c: o.crc32c, creates: creates.get(`${b}/${o.name}`) });
    return ok(out);
  }
  return send(res, 404, 'no such admin call');
}

const onRequest = (req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  if (url.pathname.startsWith('/_admin/')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => admin(req, res, url, Buffer.concat(chunks)));
    return;
  }
  if (Date.now() < downUntil) { req.socket.destroy(); return; }
  const kind = classify(req, url);
  stats.requests++;
  stats.byKind[kind] = (stats.byKind[kind] || 0) + 1;
  const fault = takeFault(kind);
  const expected = Number(req.headers['content-length'] || 0);
  const chunks = [];
  let got = 0;
  let dead = false;
  req.on('data', (c) => {
    if (dead) return;
    chunks.push(c);
    got += c.length;
    if (fault && fault.kind === 'reset' && got >= expected / 2) {
      // Connection lost in the middle of a chunk: a session keeps what
      // arrived, in whole 256 KiB units (GCS may persist partial data).
      dead = true;
      const sid = url.searchParams.get('upload_id');
      const s = sid && sessions.get(sid);
      const m = /^bytes (\d+)-/.exec(req.headers['content-range'] || '');
      if (s && m && Number(m[1]) <= s.data.length) {
        const body = Buffer.concat(chunks).slice(s.data.length - Number(m[1]));
        const keep = Math.floor((s.data.length + body.length) / CHUNK) * CHUNK - s.data.length;
        if (keep > 0) s.data = Buffer.concat([s.data, body.slice(0, keep)]);
      }
      req.socket.destroy();
    }
  });
  req.on('end', () => {
    if (dead) return;
    const body = Buffer.concat(chunks);
    if (fault && fault.kind === 'status') return gerror(res, fault.code, `Injected ${fault.code}`, 'backendError');
    if (fault && fault.kind === 'drop-response') {
      // Do the work, lose the answer: the client must not create twice.
      const sink = { statusCode: 0, writeHead(code) { this.statusCode = code; }, end() {} };
      try { handle(req, sink, body, kind, url, null); } finally { req.socket.destroy(); }
      return;
    }
    if (fault && fault.kind === 'expire-token') tokens.clear();
    const go = () => { try { handle(req, res, body, kind, url, fault); } catch (e) { gerror(res, 500, 'internal: ' + e.message, 'backendError'); } };
    if (chunkDelay > 0 && kind === 'chunk') setTimeout(go, chunkDelay); else go();
  });
};
const server = opt.tlsKey ? https.createServer({ key: opt.tlsKey, cert: opt.tlsCert }, onRequest) : http.createServer(onRequest);
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => {
  port = server.address().port;
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
