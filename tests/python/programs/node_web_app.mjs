// A web app on Node.js's own HTTP server (node:http, the server under Express), for the web-mode
// tests that put the adapter in front of a server other than uvicorn: Node's parser (llhttp) is
// strict about the requests it takes (it answers 400 or 431 itself, as in any Node app: no
// clientError listener replaces that), and its keep-alive and chunked framing are its own. It listens
// on 127.0.0.1:$AWS_LWA_PORT and answers as programs/adapter_web_app.py does for these routes:
//
//   POST /events      the pass-through path: {"passThrough": true, "contentType", "traceId", "tenantId",
//                     "received": the event}
//   GET  /stream      ?n=N&acks=DIR: N lines "chunk-<k> <ns>\n", one write each; with acks, line k+1
//                     is written only once DIR/ack-<k> exists (5 s, then "no-ack-<k>" ends the stream)
//   GET  /die         announces 100000 bytes, sends 50000, then drops the connection (the server
//                     lives on: here the app is the one process the runtime started)
//   anything else     the echo: {"pid", "method", "path", "query", "queryPairs", "headers" (as sent),
//                     "body" (base64)}, with the status the x-status header asks for, an x-echo header
//                     and two cookies; with an x-early-hints header, a 103 Early Hints first and the
//                     echo 20 ms later
//
// With $APP_KEEPALIVE_S, an idle kept-alive connection is closed after that many seconds (Node: 5;
// Node 20 closes it about a second after the timeout it advertises). With $APP_LOG, each connection
// and request is one JSON line there: {"event": "connection" | "request", "pid", "port" (the peer's),
// "method", "path"}.
import { appendFileSync, existsSync } from "node:fs";
import { createServer } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

function record(event, fields) {
  if (process.env.APP_LOG) appendFileSync(process.env.APP_LOG, `${JSON.stringify({ event, pid: process.pid, ...fields })}\n`);
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const parts = [];
    request.on("data", (part) => parts.push(part));
    request.on("end", () => resolve(Buffer.concat(parts)));
    request.on("error", reject);
  });
}

function sendJson(response, status, value, headers = {}) {
  const body = JSON.stringify(value);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
  response.end(body);
}

async function waitForAck(acks, index) {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(5)) {
    if (existsSync(`${acks}/ack-${index}`)) return true;
  }
  return false;
}

async function stream(response, query) {
  const count = Number(query.get("n") ?? 5);
  const acks = query.get("acks");
  response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  for (let k = 0; k < count; k++) {
    response.write(`chunk-${k} ${process.hrtime.bigint()}\n`);
    if (acks && k + 1 < count && !(await waitForAck(acks, k))) {
      response.write(`no-ack-${k}\n`);
      break;
    }
  }
  response.end();
}

async function die(response) {
  response.writeHead(200, { "content-type": "text/plain", "content-length": 100000 });
  response.write("x".repeat(50000));
  await sleep(50); // let the half go out first
  response.socket.destroy();
}

async function echo(request, response, path, rawQuery) {
  const body = await readBody(request);
  if (request.headers["x-early-hints"]) {
    response.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" });
    await sleep(20);
  }
  const headers = [];
  for (let i = 0; i < request.rawHeaders.length; i += 2) headers.push([request.rawHeaders[i], request.rawHeaders[i + 1]]);
  sendJson(
    response,
    Number(request.headers["x-status"] ?? 200),
    {
      pid: process.pid,
      method: request.method,
      path,
      query: rawQuery,
      queryPairs: [...new URLSearchParams(rawQuery)],
      headers,
      body: body.toString("base64"),
    },
    { "x-echo": "yes", "set-cookie": ["first=1; Path=/; SameSite=lax", "second=2; Path=/; SameSite=lax"] },
  );
}

async function handle(request, response) {
  const questionMark = request.url.indexOf("?");
  const path = questionMark < 0 ? request.url : request.url.slice(0, questionMark);
  const rawQuery = questionMark < 0 ? "" : request.url.slice(questionMark + 1);
  record("request", { port: request.socket.remotePort, method: request.method, path });
  if (request.method === "POST" && path === "/events") {
    const payload = await readBody(request);
    sendJson(response, 200, {
      passThrough: true,
      contentType: request.headers["content-type"],
      traceId: request.headers["x-amzn-trace-id"] ?? null,
      tenantId: request.headers["x-amz-tenant-id"] ?? null,
      received: JSON.parse(payload.toString("utf8")),
    });
  } else if (request.method === "GET" && path === "/stream") {
    await stream(response, new URLSearchParams(rawQuery));
  } else if (request.method === "GET" && path === "/die") {
    await die(response);
  } else {
    await echo(request, response, path, rawQuery);
  }
}

const server = createServer((request, response) => {
  handle(request, response).catch((error) => {
    console.error(`node_web_app: ${request.method} ${request.url}: ${error.stack}`);
    if (!response.headersSent) sendJson(response, 500, { error: String(error) });
    else response.destroy(error);
  });
});
if (process.env.APP_KEEPALIVE_S) server.keepAliveTimeout = Number(process.env.APP_KEEPALIVE_S) * 1000;
server.on("connection", (socket) => record("connection", { port: socket.remotePort }));
server.on("error", (error) => {
  console.error(`node_web_app: cannot serve on 127.0.0.1:${process.env.AWS_LWA_PORT}: ${error.message}`);
  process.exit(1);
});
server.listen(Number(process.env.AWS_LWA_PORT), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
