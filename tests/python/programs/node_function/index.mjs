// The function the proxy-mode tests run on AWS's Node.js runtime interface client (aws-lambda-ric,
// tests/node-ric), a real client that never calls restore/next. Each event says what to answer:
//
//   respond (buffered):
//     {"kind": "echo", ...}                     the event itself
//     {"kind": "error", "errorType": T, "message": M}   throws an Error named T
//     {"kind": "large", "size": N}              a string of N bytes (over 6 MB: the API refuses it)
//     {"kind": "seen-hooks", "log": PATH}       what this process saw when the event came: the Runtime API
//                                               address it was given, and the after-restore lines in PATH
//     {"kind": "mark", "path": PATH}            creates PATH: the proof that the event reached the handler
//   stream (awslambda.streamifyResponse):
//     {"kind": "stream", "chunks": [...], "contentType": C, "acks": DIR}
//                                               one write per chunk; with "acks", chunk k+1 is written only
//                                               once DIR/ack-<k> exists, which the caller creates once chunk
//                                               k reached it (a missing ack, 5 s, ends the stream with
//                                               "no-ack-<k>")
//     {"kind": "stream-error", "chunks": [...], "errorType": T[, "message": M]}
//                                               the chunks, then throws an Error named T (with message M)
//     {"kind": "http-stream", "statusCode": S, "headers": {...}, "chunks": [...]}
//                                               awslambda.HttpResponseStream.from: the Function URL prelude
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const named = (errorType, message) => Object.assign(new Error(message), { name: errorType });

export const respond = async (event) => {
  switch (event.kind) {
    case "echo":
      return event;
    case "error":
      throw named(event.errorType, event.message);
    case "large":
      return "x".repeat(event.size);
    case "seen-hooks": {
      const lines = existsSync(event.log) ? readFileSync(event.log, "utf8").split("\n").filter(Boolean) : [];
      const afterRestore = lines.map((line) => JSON.parse(line)).filter((record) => record.phase === "after-restore");
      return { api: process.env.AWS_LAMBDA_RUNTIME_API, afterRestore };
    }
    case "mark":
      writeFileSync(event.path, "handled\n");
      return "marked";
    default:
      throw named("Function.UnknownKind", `no such kind: ${event.kind}`);
  }
};

async function waitForAck(acks, index) {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(5)) {
    if (existsSync(`${acks}/ack-${index}`)) return true;
  }
  return false;
}

async function writeChunks(stream, chunks, acks) {
  for (const [index, chunk] of chunks.entries()) {
    stream.write(chunk);
    if (acks && index + 1 < chunks.length && !(await waitForAck(acks, index))) {
      stream.write(`no-ack-${index}`);
      return;
    }
  }
}

export const stream = awslambda.streamifyResponse(async (event, responseStream) => {
  switch (event.kind) {
    case "stream":
      if (event.contentType) responseStream.setContentType(event.contentType);
      await writeChunks(responseStream, event.chunks, event.acks);
      responseStream.end();
      return;
    case "stream-error":
      await writeChunks(responseStream, event.chunks);
      // Let the chunks go out before the failure, as an app failing mid-answer would.
      await sleep(20);
      throw named(event.errorType, event.message ?? "failed mid-stream");
    case "http-stream": {
      const http = awslambda.HttpResponseStream.from(responseStream, {
        statusCode: event.statusCode,
        headers: event.headers,
      });
      await writeChunks(http, event.chunks);
      http.end();
      return;
    }
    default:
      throw named("Function.UnknownKind", `no such kind: ${event.kind}`);
  }
});
