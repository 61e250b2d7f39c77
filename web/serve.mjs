// The web runtime: serves the built assets and passes /api/* to the backend. Node built-ins only.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json' };

// A request path as a file under root, or null when it would leave root.
export function resolveAsset(root, urlPath) {
  const decoded = decodeURIComponent(urlPath.split('?')[0]);
  const file = path.resolve(root, `.${decoded.endsWith('/') ? `${decoded}index.html` : decoded}`);
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

function passToBackend(req, res, backend, backendUrl) {
  const upstream = http.request({ host: backend.hostname, port: backend.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  // The browser left (Cancel, another photo, the tab closed): the backend's request ends too, and
  // through it the pose service's, so nobody keeps working on a photo no one waits for.
  res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
  upstream.on('error', (err) => {
    if (res.destroyed) return; // the browser has gone: nobody to answer
    if (res.headersSent) return res.destroy();
    console.error(`backend unreachable at ${backendUrl}: ${err.message}`); // the address stays in the log
    // The rest of the upload is read and dropped: the browser gets the 502 and its connection can
    // carry a retry at once (an unread body left it waiting for a reset).
    req.unpipe(upstream);
    req.resume();
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'the API server cannot be reached', unreachable: 'api' }));
  });
  req.pipe(upstream);
}

export function createWebServer({ root, backendUrl }) {
  const backend = new URL(backendUrl);
  return http.createServer((req, res) => {
    if (req.url.startsWith('/api/')) return passToBackend(req, res, backend, backendUrl);
    let file;
    try {
      file = resolveAsset(root, req.url);
    } catch {
      file = null;
    }
    if (file === null) {
      res.writeHead(400);
      return res.end('bad path');
    }
    let target = file;
    try {
      if (!statSync(target).isFile()) throw new Error('not a file');
    } catch {
      if (path.extname(file)) { // a missing asset (/favicon.ico, an old bundle) is a 404, never the page
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
      }
      target = path.join(root, 'index.html'); // single-page app: unknown routes get the page
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(target)] || 'application/octet-stream' });
    createReadStream(target).pipe(res);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT || 8080);
  const root = path.resolve(process.env.WEB_ROOT || 'dist');
  createWebServer({ root, backendUrl: process.env.BACKEND_URL || 'http://backend:3000' })
    .listen(port, () => console.log(`web on ${port}, assets ${root}`));
}
