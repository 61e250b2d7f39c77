// Pure logic: from the pose API's answer to shapes to draw, in canvas pixels. No DOM here.

// The first 25 keypoints of HMR2 follow OpenPose BODY_25; these pairs are its bones.
export const BONES = [
  [1, 8], [1, 2], [1, 5], [2, 3], [3, 4], [5, 6], [6, 7], [8, 9], [9, 10], [10, 11],
  [8, 12], [12, 13], [13, 14], [1, 0], [0, 15], [15, 17], [0, 16], [16, 18],
  [14, 19], [19, 20], [14, 21], [11, 22], [22, 23], [11, 24],
];

const finitePoint = (p) => Array.isArray(p) && p.length >= 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]);

// scale: canvas pixels per image pixel (the photo is drawn scaled to fit the canvas).
export function toDrawing(answer, scale = 1) {
  if (!answer || !Array.isArray(answer.people)) {
    throw new Error('unexpected answer from the pose API: no people list');
  }
  const boxes = [];
  const bones = [];
  answer.people.forEach((person, i) => {
    if (Array.isArray(person.box) && person.box.length === 4 && person.box.every(Number.isFinite)) {
      const [x1, y1, x2, y2] = person.box.map((v) => v * scale);
      const score = Number.isFinite(person.score) ? ` ${Math.round(person.score * 100)}%` : '';
      boxes.push({ x: x1, y: y1, width: x2 - x1, height: y2 - y1, label: `person ${i + 1}${score}` });
    }
    const joints = Array.isArray(person.joints_2d) ? person.joints_2d : [];
    for (const [a, b] of BONES) {
      if (finitePoint(joints[a]) && finitePoint(joints[b])) {
        bones.push([joints[a][0] * scale, joints[a][1] * scale, joints[b][0] * scale, joints[b][1] * scale]);
      }
    }
  });
  return { boxes, bones };
}

// The largest scale at which an image fits in the canvas without being enlarged.
export function fitScale(imageWidth, imageHeight, maxWidth, maxHeight) {
  if (imageWidth <= 0 || imageHeight <= 0) return 1;
  return Math.min(1, maxWidth / imageWidth, maxHeight / imageHeight);
}

export function describe(answer) {
  const n = answer.people.length;
  return n === 0 ? 'No person found.' : `${n} ${n === 1 ? 'person' : 'people'} found.`;
}

const MB = 1024 * 1024;
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png']);

export function formatSize(bytes) {
  return bytes >= MB ? `${Math.round((bytes / MB) * 10) / 10} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

// Why a file cannot be sent, said before sending it (null when it can).
export function problemWith(file, limitBytes) {
  if (!IMAGE_TYPES.has((file.type || '').toLowerCase())) {
    return `“${file.name}” is not a JPEG or PNG photo. Choose a .jpg or .png file.`;
  }
  if (file.size === 0) return `“${file.name}” is empty. Choose another photo.`;
  if (file.size > limitBytes) {
    return `This photo is ${formatSize(file.size)}; photos up to ${formatSize(limitBytes)} can be analysed. Choose a smaller one.`;
  }
  return null;
}

// What a person should read for an error answer of the API.
export function messageFor(status, answer = {}, limitBytes = 10 * MB) {
  if (status === 413) return `This photo is too large: photos up to ${formatSize(limitBytes)} can be analysed.`;
  if (status === 400 || status === 415) return 'This file is not a JPEG or PNG photo that can be read. Choose another photo.';
  if (status === 503 && answer.state === 'loading') return 'The pose model is still starting. Try again in a minute.';
  if (status === 503 && answer.state === 'failed') {
    return 'The pose service is not working: its model failed to load. Please tell the site’s team.';
  }
  if (status === 503) return 'The pose service is not ready yet. Try again in a minute.';
  if (status === 504) return 'The pose service took too long to answer. Try again, or try a smaller photo.';
  if (status === 502 && answer.unreachable === 'api') return 'The app’s server cannot be reached right now. Try again later.';
  if (status === 502) return 'The pose service cannot be reached right now. Try again later.';
  return `Something went wrong on the server (error ${status}). Try again.`;
}

// Label size in canvas pixels so it reads as 14 CSS pixels however far the canvas is scaled down.
export function labelFontPx(cssPerCanvasPixel) {
  return Math.round(14 / Math.max(0.05, Math.min(1, cssPerCanvasPixel)));
}
