// Fidelity of gcs-server.js, checked with Google's official Node client
// (@google-cloud/storage) and plain HTTP: token endpoint (RS256 assertion
// verified against the key's public half), resumable uploads in 256 KiB
// chunks, media/multipart uploads, downloads with the client's own CRC32C
// validation, ifGenerationMatch=0, list and delete.
//
// Two ways in: (1) service-account credentials from a generated key file,
// used by google-auth-library's JWT client (gtoken signs the assertion);
// gtoken has Google's token URL built in, so its requests are pointed at the
// fake by a transporter that rewrites that one URL (the fake accepts that
// audience, as Google does). (2) an assertion signed here with node:crypto
// for the token-endpoint checks and the plain-HTTP protocol tests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign, randomBytes } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Storage, CRC32C } from '@google-cloud/storage';
import { OAuth2Client, JWT, DefaultTransporter } from 'google-auth-library';

const here = dirname(fileURLToPath(import.meta.url));
const EMAIL = 'recorder@kflcap-test.iam.gserviceaccount.com';
const GTOKEN_URL = 'https://www.googleapis.com/oauth2/v4/token';
let srv, base, tmp, keys, storage, token;

const b64u = (b) => Buffer.from(b).toString('base64url');
function assertion({ key = keys.privateKey, aud = `${base}/token`, iat = Math.floor(Date.now() / 1000), life = 3600,
  scope = 'https://www.googleapis.com/auth/devstorage.read_write', kid = 'kid-1' } = {}) {
  const h = b64u(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
  const c = b64u(JSON.stringify({ iss: EMAIL, scope, aud, iat, exp: iat + life }));
  return `${h}.${c}.${b64u(sign('RSA-SHA256', Buffer.from(`${h}.${c}`), key))}`;
}
async function tokenReq(a, grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
  const r = await fetch(`${base}/token`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: grant, assertion: a }),
  });
  return { status: r.status, body: await r.json() };
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'kc-gcs-fid-'));
  keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(tmp, 'sa.pub'), keys.publicKey.export({ type: 'spki', format: 'pem' }));
  srv = spawn(process.execPath, [join(here, 'gcs-server.js'), '--pubkey', join(tmp, 'sa.pub'), '--bucket', 'fid-bucket',
    '--email', EMAIL, '--kid', 'kid-1', '--aud', GTOKEN_URL]);
  base = await new Promise((resolve, reject) => {
    srv.stdout.on('data', (d) => { const m = /listening (\d+)/.exec(String(d)); if (m) resolve(`http://127.0.0.1:${m[1]}`); });
    srv.on('exit', () => reject(new Error('gcs-server exited')));
  });
  const t = await tokenReq(assertion());
  assert.equal(t.status, 200);
  token = t.body.access_token;
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: token, expiry_date: Date.now() + 3600e3 });
  storage = new Storage({ apiEndpoint: base, projectId: 'kflcap-test', authClient: auth, useAuthWithCustomEndpoint: true,
    retryOptions: { autoRetry: false } });
  // @google-cloud/storage 7.22 does not pass useAuthWithCustomEndpoint to
  // resumable uploads (File#startResumableUpload_), so their requests carry
  // no Authorization: add it through a request interceptor.
  storage.interceptors.push({ request: (o) => ({ ...o, headers: { ...(o.headers || {}), Authorization: `Bearer ${token}` } }) });
});
after(() => { srv.kill(); rmSync(tmp, { recursive: true, force: true }); });

test('token endpoint: valid assertion → Bearer token with expires_in', async () => {
  const t = await tokenReq(assertion());
  assert.equal(t.status, 200);
  assert.equal(t.body.token_type, 'Bearer');
  assert.ok(t.body.expires_in > 0 && t.body.access_token.length > 20);
});

test('token endpoint: Google-shaped 400s for bad assertions', async () => {
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const a = assertion();
  const tampered = a.split('.'); tampered[1] = b64u(JSON.stringify({ iss: 'evil@x', aud: `${base}/token`, scope: 'x', iat: 1, exp: 2 }));
  for (const [what, bad, err] of [
    ['other key', assertion({ key: other }), 'invalid_grant'],
    ['wrong kid', assertion({ kid: 'kid-2' }), 'invalid_grant'],
    ['tampered claims', tampered.join('.'), 'invalid_grant'],
    ['expired', assertion({ iat: Math.floor(Date.now() / 1000) - 7200 }), 'invalid_grant'],
    ['window > 1 h', assertion({ life: 7200 }), 'invalid_grant'],
    ['wrong aud', assertion({ aud: 'https://oauth2.googleapis.com/token' }), 'invalid_grant'],
    ['no storage scope', assertion({ scope: 'https://www.googleapis.com/auth/userinfo.email' }), 'invalid_scope'],
  ]) {
    const t = await tokenReq(bad);
    assert.equal(t.status, 400, what);
    assert.equal(t.body.error, err, what);
  }
  assert.equal((await tokenReq(a, 'client_credentials')).status, 400);
});

test('storage API: no or unknown bearer → 401', async () => {
  const r = await fetch(`${base}/storage/v1/b/fid-bucket/o`);
  assert.equal(r.status, 401);
  const r2 = await fetch(`${base}/storage/v1/b/fid-bucket/o`, { headers: { Authorization: 'Bearer nope' } });
  assert.equal(r2.status, 401);
});

test('official client: resumable upload in 256 KiB chunks, download validated by CRC32C', async () => {
  const data = randomBytes(1024 * 1024 + 12345);
  const f = storage.bucket('fid-bucket').file('fid/resumable.bin');
  await f.save(data, { resumable: true, chunkSize: 256 * 1024, validation: 'crc32c' });
  const [meta] = await f.getMetadata();
  assert.equal(Number(meta.size), data.length);
  const crc = new CRC32C();
  crc.update(data);
  assert.equal(meta.crc32c, crc.toString());
  const [back] = await f.download({ validation: 'crc32c' });
  assert.ok(back.equals(data));
});

test('official client: single-request (multipart) upload and md5 validation', async () => {
  const data = randomBytes(70000);
  const f = storage.bucket('fid-bucket').file('fid/multipart.bin');
  await f.save(data, { resumable: false, validation: 'md5' });
  const [back] = await f.download({ validation: 'md5' });
  assert.ok(back.equals(data));
});

test('official client: ifGenerationMatch=0 refuses a second create with 412', async () => {
  const f = storage.bucket('fid-bucket').file('fid/once.bin');
  await f.save(Buffer.from('first'), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
  await assert.rejects(f.save(Buffer.from('second'), { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
    (e) => e.code === 412);
  const [back] = await f.download();
  assert.equal(back.toString(), 'first');
});

test('official client: list with prefix and paging, delete', async () => {
  const b = storage.bucket('fid-bucket');
  for (let i = 0; i < 5; i++) await b.file(`list/p${i}`).save(Buffer.from(String(i)), { resumable: false });
  // Pages of 2 from the server: the client must follow nextPageToken.
  await fetch(`${base}/_admin/max-results`, { method: 'POST', body: JSON.stringify({ n: 2 }) });
  const [files] = await b.getFiles({ prefix: 'list/', autoPaginate: true });
  await fetch(`${base}/_admin/max-results`, { method: 'POST', body: JSON.stringify({ n: 1000 }) });
  assert.deepEqual(files.map((x) => x.name).sort(), ['list/p0', 'list/p1', 'list/p2', 'list/p3', 'list/p4']);
  await b.file('list/p0').delete();
  const [left] = await b.getFiles({ prefix: 'list/' });
  assert.equal(left.length, 4);
  await assert.rejects(b.file('list/p0').download(), (e) => e.code === 404);
});

test('resumable protocol rules: 308 + Range, status query, hash mismatch, cancel', async () => {
  const H = { Authorization: `Bearer ${token}` };
  const init = await fetch(`${base}/upload/storage/v1/b/fid-bucket/o?uploadType=resumable&name=raw.bin`, {
    method: 'POST', headers: { ...H, 'Content-Type': 'application/json; charset=UTF-8' }, body: JSON.stringify({ crc32c: 'AAAAAA==' }),
  });
  assert.equal(init.status, 200);
  const loc = init.headers.get('location');
  const data = randomBytes(600 * 1024);
  // A non-final chunk not a multiple of 256 KiB: only whole units are kept.
  let r = await fetch(loc, { method: 'PUT', headers: { 'Content-Range': `bytes 0-299999/${data.length}` }, body: data.subarray(0, 300000) });
  assert.equal(r.status, 308);
  assert.equal(r.headers.get('range'), 'bytes=0-262143');
  r = await fetch(loc, { method: 'PUT', headers: { 'Content-Range': `bytes */${data.length}` } });
  assert.equal(r.status, 308);
  assert.equal(r.headers.get('range'), 'bytes=0-262143');
  // The final chunk completes; the declared crc32c does not match → 400.
  r = await fetch(loc, { method: 'PUT', headers: { 'Content-Range': `bytes 262144-${data.length - 1}/${data.length}` }, body: data.subarray(262144) });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /CRC32C/);
  r = await fetch(loc, { method: 'PUT', headers: { 'Content-Range': `bytes */${data.length}` } });
  assert.equal(r.status, 404);
  // Cancel → 499, then the session is gone.
  const i2 = await fetch(`${base}/upload/storage/v1/b/fid-bucket/o?uploadType=resumable&name=raw2.bin`, { method: 'POST', headers: H });
  const loc2 = i2.headers.get('location');
  assert.equal((await fetch(loc2, { method: 'DELETE' })).status, 499);
  assert.equal((await fetch(loc2, { method: 'PUT', headers: { 'Content-Range': 'bytes */*' } })).status, 404);
});

test('official client with a service-account key file: JWT → token → resumable upload', async () => {
  const keyFile = join(tmp, 'key.json');
  writeFileSync(keyFile, JSON.stringify({
    type: 'service_account', project_id: 'kflcap-test', private_key_id: 'kid-1',
    private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), client_email: EMAIL,
    client_id: '1', token_uri: `${base}/token`,
  }), { mode: 0o600 });
  const inner = new DefaultTransporter();
  let tokenCalls = 0;
  const transporter = {
    request: (o) => {
      if (o.url === GTOKEN_URL) { tokenCalls++; return inner.request({ ...o, url: `${base}/token` }); }
      return inner.request(o);
    },
  };
  const jwt = new JWT({ keyFile, scopes: ['https://www.googleapis.com/auth/devstorage.read_write'], transporter });
  const st = new Storage({ apiEndpoint: base, projectId: 'kflcap-test', authClient: jwt, useAuthWithCustomEndpoint: true,
    retryOptions: { autoRetry: false } });
  const { token: tok } = await jwt.getAccessToken();
  assert.match(tok, /^ya29\.test-/);
  st.interceptors.push({ request: (o) => ({ ...o, headers: { ...(o.headers || {}), Authorization: `Bearer ${tok}` } }) });
  const data = randomBytes(700 * 1024);
  const f = st.bucket('fid-bucket').file('fid/jwt.bin');
  await f.save(data, { resumable: true, chunkSize: 256 * 1024, validation: 'crc32c' });
  const [back] = await f.download({ validation: 'crc32c' });
  assert.ok(back.equals(data));
  assert.equal(tokenCalls, 1);
});
