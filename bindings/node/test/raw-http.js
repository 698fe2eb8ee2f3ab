'use strict';
// One HTTP/1.1 request over a raw socket, so a test can send header bytes an
// HTTP client would refuse. Not a test file: test/*.test.js require it.
const net = require('node:net');

const RESPONSE_TIMEOUT_MS = 10_000;

/**
 * Sends `GET /` with `headerLines` (a string or Buffer of CRLF-terminated
 * lines) to 127.0.0.1:`port` and resolves `{ status, headers, body }`, or
 * status 0 when the server closed without an answer. Rejects on timeout.
 */
function rawRequest(port, headerLines) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    socket.setTimeout(RESPONSE_TIMEOUT_MS, () => {
      socket.destroy();
      reject(new Error(`no answer from 127.0.0.1:${port} within ${RESPONSE_TIMEOUT_MS} ms`));
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    // A reset after the answer (a server closing on a parse error) still counts the answer.
    socket.on('error', () => {});
    socket.on('close', () => resolve(parse(Buffer.concat(chunks))));
    socket.end(
      Buffer.concat([
        Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n', 'latin1'),
        Buffer.isBuffer(headerLines) ? headerLines : Buffer.from(headerLines, 'utf8'),
        Buffer.from('\r\n', 'latin1'),
      ]),
    );
  });
}

function parse(raw) {
  const text = raw.toString('latin1');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (match === null) return { status: 0, headers: {}, body: '' };
  const end = text.indexOf('\r\n\r\n');
  const headers = {};
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body);
  return { status: Number(match[1]), headers, body: body.toString('utf8') };
}

function unchunk(body) {
  const parts = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 4 + size;
  }
  return Buffer.concat(parts);
}

module.exports = { rawRequest };
