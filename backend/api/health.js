import { sendJson } from './errors.js';

export function health(_req, res) {
  sendJson(res, 200, { status: 'ok' });
}
