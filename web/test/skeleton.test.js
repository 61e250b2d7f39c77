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
  const { problemWith, tooLarge } = await import('../src/skeleton.js');
  const file = (name, size = 5000) => ({ name, size });
  const jpeg = { type: 'image/jpeg', width: 4000, height: 3000, orientation: 1 };
  assert.equal(problemWith(file('a.jpg'), jpeg), null);
  assert.match(problemWith(file('notes.txt'), null), /“notes\.txt” is not a JPEG or PNG photo/);
  assert.match(problemWith(file('IMG_1.HEIC'), { heif: true }), /HEIC photo.*Save it as a JPEG first/);
  assert.match(problemWith(file('e.png', 0), null), /is empty/);
  assert.match(problemWith(file('b.jpg'), { type: 'image/jpeg', broken: true }), /not a photo that can be read/);
  assert.equal(problemWith(file('50mp.jpg'), { ...jpeg, width: 8660, height: 5773 }), null); // 50 MP is a phone photo
  assert.equal(problemWith(file('huge.png'), { ...jpeg, width: 20000, height: 20000 }),
    'This photo has too many pixels (400 megapixels; up to 120 megapixels can be analysed). Choose a smaller one.');
  assert.match(tooLarge(12 * 1024 * 1024, 10 * 1024 * 1024), /This photo is 12 MB even made smaller; photos up to 10 MB can be analysed/);
});

// Bytes of a JPEG: SOI, an APP1 EXIF block with the orientation (big- or little-endian TIFF), a
// frame header with the size.
function jpegBytes({ width, height, orientation, little = false, frame = 0xc0 }) {
  const u16 = (v) => (little ? [v & 0xff, v >> 8] : [v >> 8, v & 0xff]);
  const u32 = (v) => (little ? [v & 0xff, (v >> 8) & 0xff, 0, 0] : [0, 0, (v >> 8) & 0xff, v & 0xff]);
  const tiff = [...(little ? [0x49, 0x49] : [0x4d, 0x4d]), ...u16(42), ...u32(8), ...u16(1),
    ...u16(0x0112), ...u16(3), ...u32(1), ...u16(orientation), 0, 0, ...u32(0)];
  const exif = [...Buffer.from('Exif\0\0'), ...tiff];
  const app1 = [0xff, 0xe1, (exif.length + 2) >> 8, (exif.length + 2) & 0xff, ...exif];
  const sof = [0xff, frame, 0, 17, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1];
  return new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0, ...app1, ...sof, 0xff, 0xda, 0, 2]);
}

test('what a file is comes from its bytes: JPEG size and orientation, PNG size, HEIC, anything else', async () => {
  const { sniffPhoto } = await import('../src/skeleton.js');
  assert.deepEqual(sniffPhoto(jpegBytes({ width: 8660, height: 5773, orientation: 6 })),
    { type: 'image/jpeg', width: 8660, height: 5773, orientation: 6 });
  assert.deepEqual(sniffPhoto(jpegBytes({ width: 640, height: 480, orientation: 8, little: true, frame: 0xc2 })),
    { type: 'image/jpeg', width: 640, height: 480, orientation: 8 }); // progressive, Intel byte order
  const png = new Uint8Array(32);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20]);
  assert.deepEqual(sniffPhoto(png), { type: 'image/png', width: 20000, height: 20000, orientation: 1 });
  const heic = new Uint8Array([0, 0, 0, 24, ...Buffer.from('ftypheic'), 0, 0, 0, 0]);
  assert.deepEqual(sniffPhoto(heic), { heif: true });
  assert.equal(sniffPhoto(new Uint8Array(Buffer.from('not a photo at all'))), null);
  assert.deepEqual(sniffPhoto(new Uint8Array([0xff, 0xd8, 0xff, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])), { type: 'image/jpeg', broken: true });
});

test('a photo is sent upright, at most 2048 pixels on its longest side', async () => {
  const { uploadPlan } = await import('../src/skeleton.js');
  const MB = 1024 * 1024;
  assert.deepEqual(uploadPlan({ width: 8660, height: 5773, orientation: 1 }, 8.8 * MB, 10 * MB), { width: 2048, height: 1365, resize: true });
  assert.deepEqual(uploadPlan({ width: 8660, height: 5773, orientation: 6 }, 8.8 * MB, 10 * MB), { width: 1365, height: 2048, resize: true });
  assert.deepEqual(uploadPlan({ width: 800, height: 600, orientation: 1 }, 100_000, 10 * MB), { width: 800, height: 600, resize: false });
  assert.deepEqual(uploadPlan({ width: 800, height: 600, orientation: 1 }, 3 * MB, 2 * MB), { width: 800, height: 600, resize: true }); // over the limit: re-encoded
});

test('error answers become messages for people, with the model state', async () => {
  const { messageFor } = await import('../src/skeleton.js');
  assert.match(messageFor(503, { state: 'loading' }), /still starting/);
  assert.match(messageFor(503, { state: 'failed', reason: 'CUDA' }), /not working/);
  assert.match(messageFor(502, { error: 'pose service unreachable at http://10.0.0.3:8000' }), /cannot be reached/);
  assert.doesNotMatch(messageFor(502, {}), /http|\d+\.\d+\.\d+/); // no internal address
  assert.match(messageFor(413, {}, 2 * 1024 * 1024), /up to 2 MB/);
  assert.match(messageFor(413, { reason: 'too_many_pixels', pixels: 8660 * 5773, max_pixels: 40_000_000 }),
    /too many pixels \(50 megapixels; up to 40 megapixels can be analysed\)/);
  assert.doesNotMatch(messageFor(413, { reason: 'too_many_pixels' }), /MB|read/);
  assert.match(messageFor(500, {}), /error 500/);
});

test('labels read as 14 CSS pixels at any canvas scale', async () => {
  const { labelFontPx } = await import('../src/skeleton.js');
  assert.equal(labelFontPx(1), 14);
  assert.equal(labelFontPx(0.35), 40); // a 960-pixel canvas shown 335 pixels wide on a phone
});
