// POST /api/pose: an uploaded JPEG/PNG (multipart field "image", or the raw body) goes to the
// pose service; its answer comes back as it is. Limits: upload size, pose service time.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { HttpError, sendJson } from './errors.js';

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png']);

const tooLarge = (maxBytes) => `the photo is larger than the limit of ${maxBytes >= 1048576
  ? `${Math.round((maxBytes / 1048576) * 10) / 10} MB` : `${maxBytes} bytes`}`;

export function readBody(req, maxBytes) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes) {
      reject(new HttpError(413, tooLarge(maxBytes)));
      req.resume();
      return;
    }
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length;
      if (size > maxBytes) {
        // Answer now; the rest of the upload is read and dropped so the client gets the 413.
        req.off('data', onData);
        req.resume();
        reject(new HttpError(413, tooLarge(maxBytes)));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function extractImage(contentType, body) {
  const type = (contentType || '').split(';')[0].trim().toLowerCase();
  if (IMAGE_TYPES.has(type)) {
    return { type, bytes: body };
  }
  if (type === 'multipart/form-data') {
    let form;
    try {
      form = await new Request('http://local/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
    } catch {
      throw new HttpError(400, 'malformed multipart body');
    }
    const file = form.get('image');
    if (!file || typeof file === 'string') throw new HttpError(400, "no file in multipart field 'image'");
    const fileType = (file.type || '').toLowerCase();
    if (!IMAGE_TYPES.has(fileType)) throw new HttpError(415, `unsupported image type '${fileType || 'none'}': send JPEG or PNG`);
    return { type: fileType, bytes: Buffer.from(await file.arrayBuffer()) };
  }
  throw new HttpError(415, `unsupported content type '${type || 'none'}': send image/jpeg, image/png or multipart/form-data`);
}

// Keeping a copy must never cost the user an answer: a failed write is logged, not returned.
async function keepUpload(folder, image) {
  const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.${image.type === 'image/png' ? 'png' : 'jpg'}`;
  try {
    await writeFile(path.join(folder, name), image.bytes);
  } catch (err) {
    console.error(`could not keep upload in ${folder}: ${err.message}`);
  }
}

export function makePoseHandler(config, fetchImpl = fetch) {
  return async function pose(req, res) {
    const body = await readBody(req, config.maxUploadBytes);
    const image = await extractImage(req.headers['content-type'], body);
    if (image.bytes.length === 0) throw new HttpError(400, 'empty image');
    if (config.uploadDir) await keepUpload(config.uploadDir, image);
    let upstream;
    try {
      upstream = await fetchImpl(`${config.poseServiceUrl}/pose`, {
        method: 'POST',
        headers: { 'content-type': image.type },
        body: image.bytes,
        signal: AbortSignal.timeout(config.poseTimeoutMs),
      });
    } catch (err) {
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        throw new HttpError(504, `the pose service did not answer within ${config.poseTimeoutMs / 1000} s`);
      }
      console.error(`pose service unreachable at ${config.poseServiceUrl}: ${err.message}`); // the address stays in the log
      throw new HttpError(502, 'the pose service cannot be reached', { unreachable: 'pose-service' });
    }
    let payload;
    try {
      payload = await upstream.json();
    } catch {
      throw new HttpError(502, `the pose service answered ${upstream.status} without JSON`);
    }
    sendJson(res, upstream.status, payload);
  };
}
