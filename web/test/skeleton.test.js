import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { resolveAsset } from '../serve.mjs';
import { BONES, describe, fitScale, toDrawing } from '../src/skeleton.js';

const person = (over = {}) => ({
  box: [10, 20, 110, 220],
  score: 0.93,
  joints_2d: Array.from({ length: 44 }, (_, i) => [i, 2 * i]),
  ...over,
});

test('boxes and bones in canvas pixels', () => {
  const { boxes, bones } = toDrawing({ people: [person()] }, 0.5);
  assert.deepEqual(boxes, [{ x: 5, y: 10, width: 50, height: 100, label: 'person 1 93%' }]);
  assert.equal(bones.length, BONES.length);
  const [a, b] = BONES[0];
  assert.deepEqual(bones[0], [a * 0.5, 2 * a * 0.5, b * 0.5, 2 * b * 0.5]);
});

test('missing or broken joints draw no bone, bad boxes no box', () => {
  const joints = Array.from({ length: 25 }, () => [1, 1]);
  joints[8] = [Number.NaN, 1];
  const { boxes, bones } = toDrawing({ people: [person({ box: [1, 2, 3], joints_2d: joints })] });
  assert.equal(boxes.length, 0);
  assert.equal(bones.length, BONES.filter(([a, b]) => a !== 8 && b !== 8).length);
});

test('an answer without people is an error, no people is a message', () => {
  assert.throws(() => toDrawing({ error: 'x' }), /no people list/);
  assert.equal(describe({ people: [] }), 'No person found.');
  assert.equal(describe({ people: [person(), person()] }), '2 people found.');
});

test('fitScale never enlarges', () => {
  assert.equal(fitScale(100, 100, 960, 720), 1);
  assert.equal(fitScale(1920, 1080, 960, 720), 0.5);
  assert.equal(fitScale(0, 10, 960, 720), 1);
});

test('asset paths cannot leave the root', () => {
  const root = path.resolve('/srv/dist');
  assert.equal(resolveAsset(root, '/'), path.join(root, 'index.html'));
  assert.equal(resolveAsset(root, '/assets/a.js?v=1'), path.join(root, 'assets/a.js'));
  assert.equal(resolveAsset(root, '/../etc/passwd'), null);
  assert.equal(resolveAsset(root, '/%2e%2e/%2e%2e/etc/passwd'), null);
});

test('a file is refused in the page before any upload, in words a person reads', async () => {
  const { problemWith } = await import('../src/skeleton.js');
  const file = (name, type, size) => ({ name, type, size });
  assert.equal(problemWith(file('a.jpg', 'image/jpeg', 5000), 10 * 1024 * 1024), null);
  assert.match(problemWith(file('notes.txt', 'text/plain', 5), 1000), /“notes\.txt” is not a JPEG or PNG photo/);
  assert.match(problemWith(file('big.png', 'image/png', 12 * 1024 * 1024), 10 * 1024 * 1024),
    /This photo is 12 MB; photos up to 10 MB can be analysed/);
  assert.match(problemWith(file('e.png', 'image/png', 0), 1000), /is empty/);
});

test('error answers become messages for people, with the model state', async () => {
  const { messageFor } = await import('../src/skeleton.js');
  assert.match(messageFor(503, { state: 'loading' }), /still starting/);
  assert.match(messageFor(503, { state: 'failed', reason: 'CUDA' }), /not working/);
  assert.match(messageFor(502, { error: 'pose service unreachable at http://10.0.0.3:8000' }), /cannot be reached/);
  assert.doesNotMatch(messageFor(502, {}), /http|\d+\.\d+\.\d+/); // no internal address
  assert.match(messageFor(413, {}, 2 * 1024 * 1024), /up to 2 MB/);
  assert.match(messageFor(500, {}), /error 500/);
});

test('labels read as 14 CSS pixels at any canvas scale', async () => {
  const { labelFontPx } = await import('../src/skeleton.js');
  assert.equal(labelFontPx(1), 14);
  assert.equal(labelFontPx(0.35), 40); // a 960-pixel canvas shown 335 pixels wide on a phone
});
