#!/usr/bin/env node
// Fault-injecting loopback proxy in front of s3rver, for the lib/storage S3
// tests: s3rver cannot answer 503/SlowDown, drop a connection, or send the
// "200 with an <Error> body" that CompleteMultipartUpload may send
// (docs/object-storage.md §3). Only node:http.
//
//   node s3-proxy.js --target PORT      prints "listening <port>"
//
// The Host header is passed through unchanged, so a SigV4 signature made
// for the proxy's address still verifies at the target.
// Admin:
//   POST /_admin/fault {"kind":"status","code":503,"match":"part","count":2,"skip":0}
//        kinds: status (S3 XML error), reset (drop mid-body),
//               complete-error (200 + <Error><Code>InternalError</Code>)
//        match: any|put|init|part|complete|abort|get|head|list
//   POST /_admin/down {"ms":N}
//   GET  /_admin/stats    {"requests":N,"byKind":{...},"status":{...}}
//   POST /_admin/reset-stats
'use strict';

const http = require('node:http');

const args = process.argv.slice(2);
let target = 0;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--target') target = Number(args[++i]);
}
if (!target) { process.stderr.write('s3-proxy: --target PORT required\n'); process.exit(2); }

let faults = [];
let downUntil = 0;
const stats = { requests: 0, byKind: {}, status: {} };
const agent = new http.Agent({ keepAlive: true });

function classify(req, url) {
  const q = url.searchParams;
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'POST' && q.has('uploads')) return 'init';
  if (req.method === 'POST' && q.has('uploadId')) return 'complete';
  if (req.method === 'PUT' && q.has('partNumber')) return 'part';
  if (req.method === 'DELETE' && q.has('uploadId')) return 'abort';
  if (req.method === 'PUT') return 'put';
  if (req.method === 'HEAD') return 'head';
  if (req.method === 'GET' && parts.length <= 1) return 'list';
  if (req.method === 'GET') return 'get';
  return 'other';
}
function takeFault(kind) {
  const i = faults.findIndex((f) => f.match === 'any' || f.match === kind);
  if (i < 0) return null;
  const f = faults[i];
  if (f.skip > 0) { f.skip--; return null; }
  f.count = (f.count || 1) - 1;
  if (f.count <= 0) faults.splice(i, 1);
  return f;
}
function xmlError(res, code, s3code, msg) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${s3code}</Code><Message>${msg}</Message></Error>`;
  stats.status[code] = (stats.status[code] || 0) + 1;
  res.writeHead(code, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname.startsWith('/_admin/')) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const j = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : {};
      if (url.pathname === '/_admin/fault') faults.push(Object.assign({ match: 'any', count: 1 }, j));
      else if (url.pathname === '/_admin/down') downUntil = Date.now() + j.ms;
      else if (url.pathname === '/_admin/reset-stats') { stats.requests = 0; stats.byKind = {}; stats.status = {}; faults = []; }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(url.pathname === '/_admin/stats' ? stats : { ok: true }));
    });
    return;
  }
  if (Date.now() < downUntil) { req.socket.destroy(); return; }
  const kind = classify(req, url);
  stats.requests++;
  stats.byKind[kind] = (stats.byKind[kind] || 0) + 1;
  const fault = takeFault(kind);
  const chunks = [];
  let got = 0;
  let dead = false;
  const expected = Number(req.headers['content-length'] || 0);
  req.on('data', (c) => {
    if (dead) return;
    chunks.push(c);
    got += c.length;
    if (fault && fault.kind === 'reset' && got >= expected / 2) { dead = true; req.socket.destroy(); }
  });
  req.on('end', () => {
    if (dead) return;
    if (fault && fault.kind === 'status') {
      const names = { 500: 'InternalError', 503: 'SlowDown', 429: 'SlowDown', 400: 'RequestTimeout' };
      return xmlError(res, fault.code, fault.s3code || names[fault.code] || 'InjectedError', 'Injected by s3-proxy');
    }
    const body = Buffer.concat(chunks);
    const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      const out = [];
      ur.on('data', (c) => out.push(c));
      ur.on('end', () => {
        let data = Buffer.concat(out);
        const headers = Object.assign({}, ur.headers);
        let code = ur.statusCode;
        if (fault && fault.kind === 'complete-error' && code === 200) {
          // The upstream did complete; we pretend it did not (S3 can say so
          // after streaming whitespace). A correct client retries Complete.
          data = Buffer.from('<?xml version="1.0" encoding="UTF-8"?>\n   \n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>');
          headers['content-length'] = String(data.length);
          code = 200;
        }
        delete headers['transfer-encoding'];
        if (req.method !== 'HEAD') headers['content-length'] = String(data.length);
        stats.status[code] = (stats.status[code] || 0) + 1;
        res.writeHead(code, headers);
        res.end(req.method === 'HEAD' ? undefined : data);
      });
    });
    up.on('error', (e) => xmlError(res, 502, 'BadGateway', e.message));
    up.end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
