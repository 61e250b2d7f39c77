// The API against real HTTP servers: the backend, and a stand-in pose service, both on loopback.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';

import { createServer } from '../src/server.js';
import { loadConfig } from '../src/config.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

function close(server) {
  return new Promise((resolve) => server.close(resolve));
}

describe('backend API', () => {
  let pose;
  let backend;
  let url;
  const seen = [];

  before(async () => {
    // A stand-in pose service: answers per path hint in a header, records what it got.
    pose = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        seen.push({ type: req.headers['content-type'], bytes: Buffer.concat(chunks) });
        const first = Buffer.concat(chunks)[0];
        if (first === 0x00) return setTimeout(() => res.end('{}'), 2000); // slow
        if (first === 0x01) { res.writeHead(503, { 'content-type': 'application/json' }); return res.end('{"error":"model not ready"}'); }
        if (first === 0x02) { res.writeHead(500); return res.end('oops'); }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ people: [{ box: [1, 2, 3, 4] }] }));
      });
    });
    const poseUrl = await listen(pose);
    backend = createServer({ ...loadConfig({}), poseServiceUrl: poseUrl, maxUploadBytes: 1000, poseTimeoutMs: 300 });
    url = await listen(backend);
  });

  after(async () => {
    await close(backend);
    await close(pose);
  });

  test('health', async () => {
    const res = await fetch(`${url}/api/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok', maxUploadBytes: 1000 });
  });

  test('forwards a raw PNG body and returns the answer', async () => {
    const res = await fetch(`${url}/api/pose`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: PNG });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { people: [{ box: [1, 2, 3, 4] }] });
    assert.equal(seen.at(-1).type, 'image/png');
    assert.deepEqual(seen.at(-1).bytes, PNG);
  });

  test('forwards a multipart upload', async () => {
    const form = new FormData();
    form.append('image', new Blob([PNG], { type: 'image/jpeg' }), 'a.jpg');
    const res = await fetch(`${url}/api/pose`, { method: 'POST', body: form });
    assert.equal(res.status, 200);
    assert.equal(seen.at(-1).type, 'image/jpeg');
    assert.deepEqual(seen.at(-1).bytes, PNG);
  });

  const bad = [
    ['no image field', () => { const f = new FormData(); f.append('x', 'y'); return { body: f }; }, 400, "no file in multipart field 'image'"],
    ['a GIF in the form', () => { const f = new FormData(); f.append('image', new Blob([PNG], { type: 'image/gif' }), 'a.gif'); return { body: f }; }, 415, "unsupported image type 'image/gif': send JPEG or PNG"],
    ['text body', () => ({ body: 'hello', headers: { 'content-type': 'text/plain' } }), 415, "unsupported content type 'text/plain': send image/jpeg, image/png or multipart/form-data"],
    ['empty image', () => ({ body: Buffer.alloc(0), headers: { 'content-type': 'image/png' } }), 400, 'empty image'],
    ['too large', () => ({ body: Buffer.alloc(5000, 7), headers: { 'content-type': 'image/png' } }), 413, 'the photo is larger than the limit of 1000 bytes'],
    ['pose service slow', () => ({ body: Buffer.from([0]), headers: { 'content-type': 'image/png' } }), 504, 'the pose service did not answer within 0.3 s'],
    ['pose service not ready', () => ({ body: Buffer.from([1]), headers: { 'content-type': 'image/png' } }), 503, 'model not ready'],
    ['pose service broken', () => ({ body: Buffer.from([2]), headers: { 'content-type': 'image/png' } }), 502, 'the pose service answered 500 without JSON'],
  ];
  for (const [name, make, status, message] of bad) {
    test(`${name} -> ${status}`, async () => {
      const res = await fetch(`${url}/api/pose`, { method: 'POST', ...make() });
      assert.equal(res.status, status);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.equal((await res.json()).error, message);
    });
  }

  test('unknown route and wrong method', async () => {
    assert.equal((await fetch(`${url}/api/nope`)).status, 404);
    const res = await fetch(`${url}/api/pose`);
    assert.equal(res.status, 405);
    assert.equal((await res.json()).error, 'GET not allowed on /api/pose');
  });

  test('pose service down -> 502', async () => {
    const down = createServer({ ...loadConfig({}), poseServiceUrl: 'http://127.0.0.1:9', poseTimeoutMs: 2000 });
    const downUrl = await listen(down);
    try {
      const res = await fetch(`${downUrl}/api/pose`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: PNG });
      assert.equal(res.status, 502);
      assert.deepEqual(await res.json(), { error: 'the pose service cannot be reached', unreachable: 'pose-service' }); // no internal address
    } finally {
      await close(down);
    }
  });
});

test('uploads are kept when UPLOAD_DIR is set', async () => {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'uploads-'));
  const pose = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('{"people":[]}')); });
  const backend = createServer({ ...loadConfig({ UPLOAD_DIR: folder }), poseServiceUrl: await listen(pose) });
  const url = await listen(backend);
  try {
    const res = await fetch(`${url}/api/pose`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: PNG });
    assert.equal(res.status, 200);
    const files = readdirSync(folder);
    assert.equal(files.length, 1);
    assert.match(files[0], /\.png$/);
    assert.deepEqual(readFileSync(path.join(folder, files[0])), PNG);
  } finally {
    await close(backend);
    await close(pose);
  }
});

test('config rejects bad numbers with the variable name', () => {
  assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT must be a positive whole number, got 'eighty'/);
  assert.equal(loadConfig({ POSE_SERVICE_URL: 'http://x:1/' }).poseServiceUrl, 'http://x:1');
});

// A pose service stand-in that records each request: when it started, the bytes it got, and
// whether its client went away before it answered. `answerAfter` holds each answer until called.
function recordingPoseService() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const seen = { bytes: 0, ended: false, clientLeft: false, release: null };
    requests.push(seen);
    seen.released = new Promise((resolve) => { seen.release = resolve; });
    req.on('data', (chunk) => { seen.bytes += chunk.length; });
    req.on('end', () => { seen.ended = true; });
    res.on('close', () => { if (!res.writableFinished) seen.clientLeft = true; });
    seen.released.then(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"people":[]}'); });
  });
  return { server, requests };
}

async function until(check, what) {
  for (let i = 0; i < 500; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never ${what}`);
}

describe('streaming and aborts', () => {
  let pose;
  let backend;
  let url;

  before(async () => {
    pose = recordingPoseService();
    backend = createServer({ ...loadConfig({}), poseServiceUrl: await listen(pose.server), maxUploadBytes: 1_000_000, poseTimeoutMs: 20000 });
    url = await listen(backend);
  });

  after(async () => {
    for (const r of pose.requests) r.release();
    pose.server.closeAllConnections();
    await close(backend);
    await close(pose.server);
  });

  const post = (headers) => http.request(`${url}/api/pose`, { method: 'POST', headers: { 'content-type': 'image/jpeg', ...headers } });
  // The pose service's record of the next request it gets.
  const next = async () => {
    const count = pose.requests.length;
    await until(() => pose.requests.length > count, 'reached the pose service');
    return pose.requests[count];
  };

  test('a raw upload reaches the pose service while it is still being sent (no copy held whole)', async () => {
    const arriving = next();
    const client = post({ 'content-length': 200_000 });
    client.write(Buffer.alloc(100_000, 1));
    const seen = await arriving;
    await until(() => seen.bytes >= 100_000, 'forwarded the first half');
    assert.equal(seen.ended, false); // the rest has not been sent yet
    client.end(Buffer.alloc(100_000, 2));
    await until(() => seen.ended, 'forwarded the end');
    assert.equal(seen.bytes, 200_000);
    seen.release();
    const [answer] = await once(client, 'response');
    assert.equal(answer.statusCode, 200);
    answer.resume();
  });

  test('a client that leaves while the pose service works: the call to it is aborted', async () => {
    const arriving = next();
    const client = post({ 'content-length': 1000 });
    client.on('error', () => {});
    client.end(Buffer.alloc(1000, 3));
    const seen = await arriving;
    await until(() => seen.ended, 'forwarded the photo');
    client.destroy(); // the browser's Cancel, passed on by the web server
    await until(() => seen.clientLeft, 'aborted the call to the pose service');
  });

  test('a client that leaves in the middle of its upload: the pose service call ends too, the backend goes on', async () => {
    const arriving = next();
    const client = post({ 'content-length': 100_000 });
    client.on('error', () => {});
    client.write(Buffer.alloc(10_000, 4));
    const seen = await arriving;
    await until(() => seen.bytes >= 10_000, 'started forwarding');
    client.destroy();
    await until(() => seen.clientLeft, 'aborted the call to the pose service');
    assert.equal(seen.ended, false);
    assert.equal((await fetch(`${url}/api/health`)).status, 200);
  });

  test('a chunked upload over the limit is stopped with 413, and the connection serves the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const client = http.request(`${url}/api/pose`, { method: 'POST', agent, headers: { 'content-type': 'image/png', 'transfer-encoding': 'chunked' } });
      for (let i = 0; i < 15; i += 1) client.write(Buffer.alloc(100_000, 5));
      client.end();
      const [answer] = await once(client, 'response');
      assert.equal(answer.statusCode, 413);
      answer.resume();
      await once(answer, 'end');
      const next = http.request(`${url}/api/health`, { agent });
      next.end();
      const [health] = await once(next, 'response');
      assert.equal(health.statusCode, 200);
      assert.equal(next.reusedSocket, true); // the same connection, not stuck behind the unread upload
      health.resume();
    } finally {
      agent.destroy();
    }
  });
});

test('pose service down: the 502 comes after the upload is read, and the same connection carries the retry', async () => {
  const down = createServer({ ...loadConfig({}), poseServiceUrl: 'http://127.0.0.1:9', maxUploadBytes: 2_000_000 });
  const downUrl = await listen(down);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = async () => {
    const client = http.request(`${downUrl}/api/pose`, { method: 'POST', agent, headers: { 'content-type': 'image/jpeg', 'content-length': 1_500_000 } });
    client.end(Buffer.alloc(1_500_000, 6));
    const [answer] = await once(client, 'response');
    const chunks = [];
    for await (const chunk of answer) chunks.push(chunk);
    return { status: answer.statusCode, body: JSON.parse(Buffer.concat(chunks)), reused: client.reusedSocket };
  };
  try {
    const first = await send();
    assert.deepEqual([first.status, first.body.unreachable], [502, 'pose-service']);
    const retry = await send();
    assert.deepEqual([retry.status, retry.reused], [502, true]);
  } finally {
    agent.destroy();
    await close(down);
  }
});
