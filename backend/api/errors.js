// Every error leaves as JSON: {"error": "..."} with the status that says whose fault it is.
export class HttpError extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.status = status;
    this.extra = extra; // more fields of the JSON answer, e.g. which service could not be reached
  }
}

// The client closed its connection before its answer: there is nobody to answer, and its work stops.
export class ClientGone extends Error {
  constructor() {
    super('the client left');
  }
}

export function sendJson(res, status, body) {
  // An answer can come before the whole upload was read (too large, pose service down, an early
  // answer upstream): the rest is read and dropped, so the client gets this answer and its
  // connection can carry the next request at once instead of stalling on an unread body.
  const req = res.req;
  if (req && !req.complete) {
    req.unpipe();
    req.resume();
  }
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}
