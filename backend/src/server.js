// The API server: routes, JSON errors, graceful shutdown.
import http from 'node:http';
import { pathToFileURL } from 'node:url';

import { ClientGone, HttpError, sendJson } from '../api/errors.js';
import { makeHealthHandler } from '../api/health.js';
import { makePoseHandler } from '../api/pose.js';
import { loadConfig } from './config.js';

export function createServer(config) {
  const routes = {
    'GET /api/health': makeHealthHandler(config),
    'POST /api/pose': makePoseHandler(config),
  };
  return http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://local').pathname;
    const handler = routes[`${req.method} ${path}`];
    try {
      if (!handler) {
        const known = Object.keys(routes).some((r) => r.endsWith(` ${path}`));
        throw new HttpError(known ? 405 : 404, known ? `${req.method} not allowed on ${path}` : `no route ${path}`);
      }
      await handler(req, res);
    } catch (err) {
      if (err instanceof ClientGone || res.headersSent) return res.destroy();
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message, ...err.extra });
      console.error(err);
      sendJson(res, 500, { error: 'internal error' });
    }
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const config = loadConfig();
  const server = createServer(config);
  server.listen(config.port, () => console.log(`backend listening on ${config.port}, pose service ${config.poseServiceUrl}`));
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => server.close(() => process.exit(0)));
  }
}
