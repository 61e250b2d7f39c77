// The page: choose a photo, send it to the API, draw it with a box and a skeleton per person.
// The last photo chosen always wins: choosing another (or Cancel) aborts the request under way
// (the servers behind drop it too), and an answer that arrives for an older photo is dropped.
// A photo is decoded at most MAX_SIDE pixels on its longest side, upright, and sent at that size.
import {
  HEADER_BYTES, describe, fitScale, formatSize, labelFontPx, messageFor, problemWith, sniffPhoto, toDrawing, tooLarge,
  uploadPlan,
} from './skeleton.js';

const input = document.getElementById('file');
const chosen = document.getElementById('chosen');
const message = document.getElementById('message'); // the live region: only sentences worth announcing
const detail = document.getElementById('detail'); // per-second counter and upload percentage: not announced
const spinner = document.getElementById('spinner');
const cancel = document.getElementById('cancel');
const canvas = document.getElementById('canvas');
const context = canvas.getContext('2d');
const MAX_WIDTH = 960;
const MAX_HEIGHT = 720;
const DEFAULT_LIMIT = 10 * 1024 * 1024;
const JPEG_QUALITIES = [0.9, 0.75, 0.6]; // lower only when a photo is still over the upload limit
const BUSY = new Set(['reading', 'sending', 'waiting']);

let current = null; // the job of the last photo chosen
let shown = null; // { bitmap, answer } on the canvas, redrawn when its size on screen changes
let limitBytes = DEFAULT_LIMIT;
fetch('/api/health')
  .then((r) => (r.ok ? r.json() : {}))
  .then((health) => { if (Number.isInteger(health.maxUploadBytes)) limitBytes = health.maxUploadBytes; })
  .catch(() => {}); // the server's own check still holds

// state: idle, reading, sending, waiting, done, error (tests wait on it).
function setState(state, text, extra = '') {
  document.body.dataset.state = state;
  if (message.textContent !== text) message.textContent = text; // the same words are not announced again
  message.className = state === 'error' ? 'error' : '';
  detail.textContent = extra;
  const busy = BUSY.has(state);
  spinner.hidden = !busy;
  // Cancel is about to vanish under the keyboard's focus: the next thing to do is choose a photo.
  if (!busy && document.activeElement === cancel) input.focus();
  cancel.hidden = !busy;
}

function hidePhoto() {
  canvas.hidden = true;
  delete canvas.dataset.drawing;
  shown?.bitmap.close();
  shown = null;
}

function showPhoto(bitmap) {
  hidePhoto();
  const scale = fitScale(bitmap.width, bitmap.height, MAX_WIDTH, MAX_HEIGHT);
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.hidden = false;
  shown = { bitmap, answer: null };
  draw();
}

// The photo, and the people once answered, at sizes that read the same at any screen width.
function draw() {
  if (!shown) return;
  context.drawImage(shown.bitmap, 0, 0, canvas.width, canvas.height);
  if (shown.answer) drawPeople(shown.answer);
}

// Boxes, labels and bones in the frame the service measured (its answer's width and height:
// the photo upright, as shown here).
function drawPeople(answer) {
  const frameWidth = Number.isFinite(answer.width) && answer.width > 0 ? answer.width : canvas.width;
  const { boxes, bones } = toDrawing(answer, canvas.width / frameWidth);
  const cssWidth = canvas.getBoundingClientRect().width;
  const cssPerPixel = cssWidth / canvas.width || 1;
  const fontPx = labelFontPx(cssPerPixel);
  context.lineWidth = Math.max(2, 2 / cssPerPixel);
  context.strokeStyle = '#ff6d00';
  for (const [x1, y1, x2, y2] of bones) {
    context.beginPath();
    context.moveTo(x1, y1);
    context.lineTo(x2, y2);
    context.stroke();
  }
  context.font = `600 ${fontPx}px system-ui, sans-serif`;
  context.textBaseline = 'top';
  for (const box of boxes) {
    context.strokeStyle = '#00e676';
    context.strokeRect(box.x, box.y, box.width, box.height);
    const pad = fontPx / 4;
    const width = context.measureText(box.label).width + 2 * pad;
    const top = box.y >= fontPx + 2 * pad ? box.y - fontPx - 2 * pad : box.y; // above the box where it fits
    context.fillStyle = 'rgba(0, 0, 0, 0.75)';
    context.fillRect(box.x, top, width, fontPx + 2 * pad);
    context.fillStyle = '#ffffff';
    context.fillText(box.label, box.x + pad, top + pad);
  }
  canvas.dataset.drawing = JSON.stringify({ boxes, bones, width: canvas.width, height: canvas.height, fontPx, cssWidth });
}

// A phone turned, a window resized: labels are drawn again at the size that reads at the new width.
let redraw = 0;
new ResizeObserver(() => {
  cancelAnimationFrame(redraw);
  redraw = requestAnimationFrame(draw);
}).observe(canvas);

async function encodeJpeg(bitmap) {
  const surface = new OffscreenCanvas(bitmap.width, bitmap.height);
  const paint = surface.getContext('2d');
  paint.fillStyle = '#ffffff'; // a transparent PNG's background, as a viewer shows it
  paint.fillRect(0, 0, bitmap.width, bitmap.height);
  paint.drawImage(bitmap, 0, 0);
  let blob;
  for (const quality of JPEG_QUALITIES) {
    blob = await surface.convertToBlob({ type: 'image/jpeg', quality });
    if (blob.size <= limitBytes) break;
  }
  return blob;
}

// POSTs the photo as the raw body; XMLHttpRequest, since fetch reports no upload progress.
function send(job, body, type, onProgress, onSent) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/pose');
    xhr.setRequestHeader('content-type', type);
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); });
    xhr.upload.addEventListener('load', onSent);
    xhr.addEventListener('load', () => {
      let answer = {};
      try {
        answer = JSON.parse(xhr.responseText);
      } catch { /* an answer without JSON: its status says enough */ }
      resolve({ status: xhr.status, answer });
    });
    xhr.addEventListener('error', () => reject(new Error('network')));
    xhr.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    job.controller.signal.addEventListener('abort', () => xhr.abort());
    xhr.send(body);
  });
}

function fail(job, text) {
  if (current !== job) return;
  hidePhoto();
  setState('error', text);
}

async function analyse(file) {
  current?.controller.abort(); // a newer photo: the older request is of no use
  const job = { controller: new AbortController(), timer: null };
  current = job;
  chosen.textContent = `${file.name}, ${formatSize(file.size)}`;
  setState('reading', 'Reading the photo…'); // at once: an earlier message is never left standing
  const unreadable = 'This file is not a photo that can be read. Choose a JPEG or PNG photo.';
  let photo;
  try {
    photo = sniffPhoto(new Uint8Array(await file.slice(0, HEADER_BYTES).arrayBuffer()));
  } catch {
    return fail(job, unreadable); // the file went away or cannot be read
  }
  if (current !== job) return;
  const problem = problemWith(file, photo);
  if (problem) return fail(job, problem);
  const plan = uploadPlan(photo, file.size, limitBytes);
  let bitmap;
  let body = file;
  try {
    // Decoded at the size to send, upright (the browser applies the EXIF orientation first), so a
    // 50 MP photo never sits whole in the tab; what is sent is exactly what is drawn.
    bitmap = await createImageBitmap(file, { resizeWidth: plan.width, resizeHeight: plan.height, resizeQuality: 'high' });
    if (plan.resize) body = await encodeJpeg(bitmap);
  } catch {
    bitmap?.close();
    return fail(job, unreadable);
  }
  if (current !== job) return bitmap.close();
  if (body.size > limitBytes) {
    bitmap.close();
    return fail(job, tooLarge(body.size, limitBytes));
  }
  showPhoto(bitmap);
  setState('sending', 'Sending…', '0 %');
  const waitForModel = () => {
    const started = Date.now();
    const tick = () => setState('waiting', 'Looking for people…', `${Math.round((Date.now() - started) / 1000)} s`);
    tick();
    job.timer = setInterval(tick, 1000);
  };
  let response;
  try {
    response = await send(job, body, plan.resize ? 'image/jpeg' : photo.type,
      (part) => { if (current === job) setState('sending', 'Sending…', `${Math.floor(part * 100)} %`); },
      () => { if (current === job) waitForModel(); });
  } catch {
    if (!job.controller.signal.aborted) fail(job, 'The server cannot be reached. Check your connection and try again.');
    return;
  } finally {
    clearInterval(job.timer);
  }
  if (current !== job) return; // an answer for an older photo
  if (response.status < 200 || response.status > 299) return fail(job, messageFor(response.status, response.answer, limitBytes));
  try {
    shown.answer = response.answer;
    draw();
    setState('done', describe(response.answer));
  } catch (err) {
    fail(job, `The answer could not be shown (${err.message}). Try again.`);
  }
}

input.addEventListener('change', () => {
  const file = input.files[0];
  input.value = ''; // so choosing the same file again (a retry) is a change too
  if (file) analyse(file);
});

cancel.addEventListener('click', () => {
  if (!current) return;
  current.controller.abort();
  clearInterval(current.timer);
  current = null;
  hidePhoto();
  chosen.textContent = '';
  setState('idle', 'Cancelled. Choose a photo to try again.');
});

setState('idle', '');
