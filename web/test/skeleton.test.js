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
