// The web server's passing of /api/* to the backend, against real sockets.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { test } from 'node:test';

import { createWebServer } from '../serve.mjs';

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

async function until(check, what) {
  for (let i = 0; i < 500; i += 1) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never ${what}`);
}

test('a browser that leaves ends the request to the backend', async () => {
  const seen = { arrived: false, left: false };
  const backend = http.createServer((req, res) => {
    seen.arrived = true;
    req.resume();
    res.on('close', () => { seen.left = !res.writableFinished; }); // never answers: the model is busy
  });
  const web = createWebServer({ root: '/nonexistent', backendUrl: await listen(backend) });
  const url = await listen(web);
  try {
    const browser = http.request(`${url}/api/pose`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'content-length': 10 } });
    browser.on('error', () => {});
    browser.end(Buffer.alloc(10));
    await until(() => seen.arrived, 'reached the backend');
    browser.destroy(); // Cancel
    await until(() => seen.left, 'ended the request to the backend');
  } finally {
    backend.closeAllConnections();
    web.closeAllConnections();
    backend.close();
    web.close();
  }
});

test('backend down: 502 after the upload is read, and the same connection carries the retry', async () => {
  const web = createWebServer({ root: '/nonexistent', backendUrl: 'http://127.0.0.1:9' });
  const url = await listen(web);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = async () => {
    const browser = http.request(`${url}/api/pose`, { method: 'POST', agent, headers: { 'content-type': 'image/jpeg', 'content-length': 1_500_000 } });
    browser.end(Buffer.alloc(1_500_000, 1));
    const [answer] = await once(browser, 'response');
    const chunks = [];
    for await (const chunk of answer) chunks.push(chunk);
    return { status: answer.statusCode, body: JSON.parse(Buffer.concat(chunks)), reused: browser.reusedSocket };
  };
  const errors = console.error;
  console.error = () => {}; // the unreachable backend is logged; not this test's output
  try {
    const first = await send();
    assert.deepEqual([first.status, first.body.unreachable], [502, 'api']);
    const retry = await send();
    assert.deepEqual([retry.status, retry.reused], [502, true]);
  } finally {
    console.error = errors;
    agent.destroy();
    web.close();
  }
});
