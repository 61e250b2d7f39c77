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
