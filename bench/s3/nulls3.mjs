#!/usr/bin/env node
// "Null" S3 endpoint over HTTPS, for calibrating: the ceiling of s3load.mjs + Node's HTTPS server on
// this machine with no storage, no auth check (adapted from /work/shared/bench/nulls3.mjs). Accepts
// any PUT/DELETE/HEAD (drains the body; 200/204), answers GET with zeros of the size in the key
// (".../4KiB/o000001", ".../1MiB/..."). Same TLS settings as Enclave (TLS 1.2/1.3, its cipher order).
// Usage: node bench/s3/nulls3.mjs PORT CERT.pem KEY.pem   (run.sh: TARGETS="... null-tls")
import https from 'node:https';
import { readFileSync } from 'node:fs';
const [port, cert, key] = [Number(process.argv[2] ?? 29300), process.argv[3], process.argv[4]];
const ciphers = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384';
const bufs = new Map();
const sizeOf = (url) => {
  const m = /\/(\d+)(MiB|KiB|B)\//.exec(url);
  return m ? Number(m[1]) * (m[2] === 'MiB' ? 1048576 : m[2] === 'KiB' ? 1024 : 1) : 0;
};
https.createServer({ cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2', ciphers, honorCipherOrder: true, keepAliveTimeout: 75_000 }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    if (req.method === 'GET') {
      const n = sizeOf(req.url);
      if (!bufs.has(n)) bufs.set(n, Buffer.alloc(n));
      res.writeHead(200, { 'Content-Length': n, 'Content-Type': 'application/octet-stream', ETag: '"0"' });
      res.end(bufs.get(n));
    } else if (req.method === 'DELETE') { res.writeHead(204); res.end(); }
    else { res.writeHead(200, { ETag: '"0"', 'Content-Length': 0 }); res.end(); }
  });
}).listen(port, '127.0.0.1');
