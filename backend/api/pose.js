// POST /api/pose: an uploaded JPEG/PNG (the raw body, as the page sends it, or multipart field
// "image") goes to the pose service; its answer comes back as it is. Limits: upload size, pose
// service time. A raw body is streamed through to the pose service, never held whole here; a
// multipart form is read first (within the limit). When the client leaves, the call to the pose
// service is aborted, so the pose service drops the photo instead of spending the model on it.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';

import { ClientGone, HttpError, sendJson } from './errors.js';

const IMAGE_TYPES = new Set(['image/jpeg', 'image/png']);

const tooLarge = (maxBytes) => new HttpError(413, `the photo is larger than the limit of ${maxBytes >= 1048576
  ? `${Math.round((maxBytes / 1048576) * 10) / 10} MB` : `${maxBytes} bytes`}`);

// Rejects with ClientGone when the client disconnects before the whole body has come.
export function readBody(req, maxBytes) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > maxBytes) {
      reject(tooLarge(maxBytes));
      return;
    }
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => { if (!req.complete) reject(new ClientGone()); });
  });
}

export async function imageFromForm(contentType, body) {
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

// The upload as it will be sent on: its type, length when known, and a stream of its bytes.
async function uploadOf(req, maxBytes) {
  const contentType = req.headers['content-type'] || '';
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (IMAGE_TYPES.has(type)) {
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    if (declared > maxBytes) throw tooLarge(maxBytes);
    if (declared === 0) throw new HttpError(400, 'empty image');
    return { type, length: declared, stream: req };
  }
  if (type === 'multipart/form-data') {
    const { type: fileType, bytes } = await imageFromForm(contentType, await readBody(req, maxBytes));
    if (bytes.length === 0) throw new HttpError(400, 'empty image');
    return { type: fileType, length: bytes.length, stream: Readable.from([bytes]) };
  }
  throw new HttpError(415, `unsupported content type '${type || 'none'}': send image/jpeg, image/png or multipart/form-data`);
}

// Passes the bytes on and fails with a 413 as soon as there are more than maxBytes (a chunked
// body declares no length).
function byteLimit(maxBytes) {
  let size = 0;
  return new Transform({
    transform(chunk, _encoding, done) {
      size += chunk.length;
      done(size > maxBytes ? tooLarge(maxBytes) : null, chunk);
    },
  });
}

// Keeping a copy must never cost the user an answer: a failed write is logged, not returned.
// Resolves once the copy is complete (or given up); an upload that did not arrive whole is removed.
function keepUpload(folder, type, bytes) {
  const file = path.join(folder, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.${type === 'image/png' ? 'png' : 'jpg'}`);
  const out = createWriteStream(file);
  let whole = false;
  bytes.on('end', () => { whole = true; });
  bytes.pipe(out);
  return new Promise((resolve) => {
    out.on('error', (err) => {
      console.error(`could not keep upload in ${folder}: ${err.message}`);
      resolve();
    });
    out.on('close', () => (whole ? resolve() : unlink(file).catch(() => {}).then(resolve)));
    bytes.on('close', () => { if (!whole) out.destroy(); });
  });
}

// Sends the upload to the pose service; its status and JSON answer. Aborted when `clientLeft`
// fires (the request to the pose service is destroyed: its socket closes), 504 after the timeout.
function askPoseService(config, upload, clientLeft) {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': upload.type };
    if (upload.length !== undefined) headers['content-length'] = upload.length;
    const upstream = http.request(`${config.poseServiceUrl}/pose`, { method: 'POST', headers });
    const timer = setTimeout(() => upstream.destroy(
      new HttpError(504, `the pose service did not answer within ${config.poseTimeoutMs / 1000} s`)), config.poseTimeoutMs);
    const onLeft = () => upstream.destroy(new ClientGone());
    clientLeft.addEventListener('abort', onLeft);
    let settled = false;
    const settle = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clientLeft.removeEventListener('abort', onLeft);
      fn(value);
    };
    upstream.on('error', (err) => {
      if (err instanceof HttpError || err instanceof ClientGone) return settle(reject, err);
      console.error(`pose service unreachable at ${config.poseServiceUrl}: ${err.message}`); // the address stays in the log
      settle(reject, new HttpError(502, 'the pose service cannot be reached', { unreachable: 'pose-service' }));
    });
    upstream.on('response', (answer) => {
      const chunks = [];
      answer.on('data', (chunk) => chunks.push(chunk));
      answer.on('end', () => {
        try {
          settle(resolve, { status: answer.statusCode, payload: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch {
          settle(reject, new HttpError(502, `the pose service answered ${answer.statusCode} without JSON`));
        }
      });
    });
    upload.bytes.on('error', (err) => upstream.destroy(err));
    upload.bytes.pipe(upstream);
    if (clientLeft.aborted) onLeft();
  });
}

export function makePoseHandler(config) {
  return async function pose(req, res) {
    const left = new AbortController();
    res.on('close', () => { if (!res.writableFinished) left.abort(); });
    const upload = await uploadOf(req, config.maxUploadBytes);
    upload.bytes = upload.stream.pipe(byteLimit(config.maxUploadBytes));
    upload.stream.on('error', () => {}); // an aborted upload is seen through `left`
    const kept = config.uploadDir ? keepUpload(config.uploadDir, upload.type, upload.bytes) : null;
    let answer;
    try {
      answer = await askPoseService(config, upload, left.signal);
    } finally {
      if (!upload.bytes.readableEnded) upload.bytes.destroy(); // an early answer or a failure: no partial copy kept
    }
    await kept;
    sendJson(res, answer.status, answer.payload);
  };
}
