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

export function formatSize(bytes) {
  return bytes >= MB ? `${Math.round((bytes / MB) * 10) / 10} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

// --- what a file is, from its first bytes (never from its name: a JPEG may have no extension) ---

export const HEADER_BYTES = 1024 * 1024; // room for the EXIF block, ICC profiles and the like before the frame header
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);
const ascii = (bytes, start, length) => String.fromCharCode(...bytes.subarray(start, start + length));

// The EXIF orientation (1 to 8) in a JPEG's APP1 segment, 1 when absent or unreadable.
function exifOrientation(bytes, start, end) {
  if (ascii(bytes, start, 6) !== 'Exif\0\0') return 1;
  const tiff = start + 6;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const little = ascii(bytes, tiff, 2) === 'II';
  const u16 = (at) => view.getUint16(at, little);
  const ifd = tiff + view.getUint32(tiff + 4, little);
  if (ifd + 2 > end) return 1;
  for (let i = 0, n = u16(ifd); i < n && ifd + 2 + 12 * (i + 1) <= end; i += 1) {
    const entry = ifd + 2 + 12 * i;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

// A JPEG's size and orientation from its markers, read up to the first frame header.
function jpegHeader(bytes) {
  let orientation = 1;
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) { at += 1; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; } // no length
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    if (marker === 0xe1) orientation = Math.max(orientation, exifOrientation(bytes, at + 4, Math.min(bytes.length, at + 2 + length)));
    const isFrame = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (isFrame) {
      return { height: (bytes[at + 5] << 8) | bytes[at + 6], width: (bytes[at + 7] << 8) | bytes[at + 8], orientation };
    }
    if (marker === 0xda) return null; // image data before any frame header
    at += 2 + length;
  }
  return null;
}

// { type, width, height, orientation } of a JPEG or PNG; { heif: true } for an iPhone's HEIC;
// null for anything else. Width and height as stored (before the orientation is applied).
export function sniffPhoto(bytes) {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    const header = jpegHeader(bytes);
    return header && header.width > 0 && header.height > 0 ? { type: 'image/jpeg', ...header } : { type: 'image/jpeg', broken: true };
  }
  if (ascii(bytes, 0, 8) === '\x89PNG\r\n\x1a\n') {
    if (ascii(bytes, 12, 4) !== 'IHDR') return { type: 'image/png', broken: true };
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    return { type: 'image/png', width: view.getUint32(16), height: view.getUint32(20), orientation: 1 };
  }
  if (ascii(bytes, 4, 4) === 'ftyp' && HEIF_BRANDS.has(ascii(bytes, 8, 4))) return { heif: true };
  return null;
}

// --- what the page sends: the photo upright, at most MAX_SIDE pixels on its longest side ------

export const MAX_SIDE = 2048; // keeps the pose model's accuracy; a 50 MP photo is sent ~12x smaller
export const MAX_PIXELS_IN_PAGE = 120_000_000; // decoding more could take gigabytes in the tab (108 MP phones pass)

// The size to decode the photo at, upright; `resize` when it must be made smaller to be sent.
export function uploadPlan(photo, fileSize, limitBytes) {
  const sideways = photo.orientation >= 5; // EXIF 5 to 8 turn the photo a quarter
  const width = sideways ? photo.height : photo.width;
  const height = sideways ? photo.width : photo.height;
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
    resize: scale < 1 || fileSize > limitBytes,
  };
}

const megapixels = (pixels) => `${Math.round(pixels / 1e5) / 10} megapixels`;

export function tooManyPixels(pixels, maxPixels) {
  return `This photo has too many pixels (${megapixels(pixels)}; up to ${megapixels(maxPixels)} can be analysed). Choose a smaller one.`;
}

// Why a file cannot be sent, said before sending it (null when it can). `photo`: sniffPhoto's result.
export function problemWith(file, photo) {
  if (file.size === 0) return `“${file.name}” is empty. Choose another photo.`;
  if (photo?.heif) {
    return `“${file.name}” is a HEIC photo, which this app cannot read yet. Save it as a JPEG first (Preview on a Mac: File › Export; Photos on Windows: Save as .jpg) and choose that. New iPhone photos are JPEGs with Settings › Camera › Formats › Most Compatible.`;
  }
  if (!photo) return `“${file.name}” is not a JPEG or PNG photo. Choose a .jpg or .png file.`;
  if (photo.broken) return 'This file is not a photo that can be read. Choose a JPEG or PNG photo.';
  if (photo.width * photo.height > MAX_PIXELS_IN_PAGE) return tooManyPixels(photo.width * photo.height, MAX_PIXELS_IN_PAGE);
  return null;
}

export function tooLarge(size, limitBytes) {
  return `This photo is ${formatSize(size)} even made smaller; photos up to ${formatSize(limitBytes)} can be analysed. Choose a smaller one.`;
}

// What a person should read for an error answer of the API.
export function messageFor(status, answer = {}, limitBytes = 10 * MB) {
  if (status === 413 && answer.reason === 'too_many_pixels') {
    return Number.isFinite(answer.pixels) && Number.isFinite(answer.max_pixels)
      ? tooManyPixels(answer.pixels, answer.max_pixels) : 'This photo has too many pixels to be analysed. Choose a smaller one.';
  }
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
