import { sendJson } from './errors.js';

// Liveness, and the upload limit, so the page can refuse a photo that is too large at once.
export function makeHealthHandler(config) {
  return function health(_req, res) {
    sendJson(res, 200, { status: 'ok', maxUploadBytes: config.maxUploadBytes });
  };
}
