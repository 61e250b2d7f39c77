// The page: upload, call the API, draw the photo with boxes and skeletons.
import { describe, fitScale, toDrawing } from './skeleton.js';

const input = document.getElementById('file');
const status = document.getElementById('status');
const canvas = document.getElementById('canvas');
const context = canvas.getContext('2d');
const MAX_WIDTH = 960;
const MAX_HEIGHT = 720;

function say(text, isError = false) {
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

async function analyse(file) {
  const bitmap = await createImageBitmap(file);
  const scale = fitScale(bitmap.width, bitmap.height, MAX_WIDTH, MAX_HEIGHT);
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  say('Analysing…');
  const form = new FormData();
  form.append('image', file);
  const response = await fetch('/api/pose', { method: 'POST', body: form });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    say(`Error ${response.status}: ${answer.error || response.statusText}`, true);
    return;
  }
  const { boxes, bones } = toDrawing(answer, scale);
  context.lineWidth = 2;
  context.strokeStyle = '#00c853';
  context.fillStyle = '#00c853';
  context.font = '14px system-ui';
  for (const box of boxes) {
    context.strokeRect(box.x, box.y, box.width, box.height);
    context.fillText(box.label, box.x + 4, box.y + 16);
  }
  context.strokeStyle = '#ff6d00';
  for (const [x1, y1, x2, y2] of bones) {
    context.beginPath();
    context.moveTo(x1, y1);
    context.lineTo(x2, y2);
    context.stroke();
  }
  say(describe(answer));
}

input.addEventListener('change', () => {
  const file = input.files[0];
  if (file) analyse(file).catch((err) => say(`Error: ${err.message}`, true));
});
