// The page: choose a photo, send it to the API, draw it with a box and a skeleton per person.
// The last photo chosen always wins: choosing another (or Cancel) aborts the request under way,
// and an answer that arrives for an older photo is dropped.
import { describe, fitScale, labelFontPx, messageFor, problemWith, toDrawing } from './skeleton.js';

const input = document.getElementById('file');
const message = document.getElementById('message');
const spinner = document.getElementById('spinner');
const cancel = document.getElementById('cancel');
const canvas = document.getElementById('canvas');
const context = canvas.getContext('2d');
const MAX_WIDTH = 960;
const MAX_HEIGHT = 720;
const DEFAULT_LIMIT = 10 * 1024 * 1024;

let current = null; // the job of the last photo chosen
let limitBytes = DEFAULT_LIMIT;
fetch('/api/health')
  .then((r) => (r.ok ? r.json() : {}))
  .then((health) => { if (Number.isInteger(health.maxUploadBytes)) limitBytes = health.maxUploadBytes; })
  .catch(() => {}); // the server's own check still holds

function setState(state, text) {
  document.body.dataset.state = state; // idle, waiting, done, error (tests wait on it)
  message.textContent = text;
  message.className = state === 'error' ? 'error' : '';
  spinner.hidden = state !== 'waiting';
  cancel.hidden = state !== 'waiting';
}

function hidePhoto() {
  canvas.hidden = true;
  delete canvas.dataset.drawing;
}

function drawPhoto(bitmap) {
  const scale = fitScale(bitmap.width, bitmap.height, MAX_WIDTH, MAX_HEIGHT);
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.hidden = false;
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
}

// Boxes, labels and bones in the frame the service measured (its answer's width and height:
// the photo upright, as shown here), at sizes that read the same at any screen width.
function drawPeople(answer) {
  const frameWidth = Number.isFinite(answer.width) && answer.width > 0 ? answer.width : canvas.width;
  const { boxes, bones } = toDrawing(answer, canvas.width / frameWidth);
  const cssPerPixel = canvas.getBoundingClientRect().width / canvas.width || 1;
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
  canvas.dataset.drawing = JSON.stringify({ boxes, bones, width: canvas.width, height: canvas.height, fontPx,
    cssWidth: canvas.getBoundingClientRect().width });
}

async function analyse(file) {
  current?.controller.abort(); // a newer photo: the older request is of no use
  const job = { controller: new AbortController(), started: Date.now(), timer: null };
  current = job;
  const problem = problemWith(file, limitBytes);
  if (problem) {
    hidePhoto();
    return setState('error', problem);
  }
  setState('waiting', 'Reading the photo…'); // at once: an earlier message is never left standing
  let bitmap;
  try {
    bitmap = await createImageBitmap(file); // upright: the browser applies the EXIF orientation
  } catch {
    if (current === job) {
      hidePhoto();
      setState('error', 'This file is not a photo that can be read. Choose a JPEG or PNG photo.');
    }
    return;
  }
  if (current !== job) return;
  hidePhoto();
  drawPhoto(bitmap);
  const tick = () => setState('waiting', `Looking for people… ${Math.round((Date.now() - job.started) / 1000)} s`);
  tick();
  job.timer = setInterval(tick, 1000);
  const form = new FormData();
  form.append('image', file);
  let response;
  let answer;
  try {
    response = await fetch('/api/pose', { method: 'POST', body: form, signal: job.controller.signal });
    answer = await response.json().catch(() => ({}));
  } catch {
    if (current === job && !job.controller.signal.aborted) {
      hidePhoto();
      setState('error', 'The server cannot be reached. Check your connection and try again.');
    }
    return;
  } finally {
    clearInterval(job.timer);
  }
  if (current !== job) return; // an answer for an older photo
  if (!response.ok) {
    hidePhoto();
    return setState('error', messageFor(response.status, answer, limitBytes));
  }
  try {
    drawPeople(answer);
    setState('done', describe(answer));
  } catch (err) {
    hidePhoto();
    setState('error', `The answer could not be shown (${err.message}). Try again.`);
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
  setState('idle', 'Cancelled. Choose a photo to try again.');
});

setState('idle', '');
