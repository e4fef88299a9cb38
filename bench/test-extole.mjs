/**
 * A minimal stand-in for Extole's events API, run as a child process of the benchmark so it
 * does not share an event loop with the senders: answers every request 200 `{"event_id": …}`
 * (or, with TEST_EXTOLE_REJECT=1, 400 with a RestExceptionResponse) as fast as node:http can,
 * after reading the body, and counts. Talks to its parent over IPC:
 * sends `{ port }` once listening; answers `'count'` with `{ count, bytes }`, `'reset'` zeroes;
 * `{ waitFor: n }` is answered `{ reached: n }` as soon as the count reaches n (so the benchmark
 * times the end of a run without polling).
 */
import http from 'node:http';

// TEST_EXTOLE_REJECT=1: answer every request 400 (a RestExceptionResponse), as Extole does for an
// event it will never accept: every delivery becomes a dead letter.
const REJECT = process.env.TEST_EXTOLE_REJECT === '1';
const REJECT_BODY = JSON.stringify({ unique_id: 'bench', http_status_code: 400, code: 'invalid_event', message: 'rejected by the test Extole', parameters: {} });
let count = 0;
let bytes = 0;
/** The count a `waitFor` is waiting for (one at a time), or Infinity. */
let waitingFor = Infinity;
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
  });
  req.on('end', () => {
    count++;
    bytes += size;
    if (count >= waitingFor) {
      process.send({ reached: waitingFor });
      waitingFor = Infinity;
    }
    const body = REJECT ? REJECT_BODY : `{"event_id":"${count}"}`;
    res.writeHead(REJECT ? 400 : 200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.send({ port: server.address().port });
});
process.on('message', (message) => {
  if (message === 'count') process.send({ count, bytes });
  else if (typeof message?.waitFor === 'number') {
    if (count >= message.waitFor) process.send({ reached: message.waitFor });
    else waitingFor = message.waitFor;
  } else if (message === 'reset') {
    count = 0;
    bytes = 0;
    process.send({ reset: true });
  } else if (message === 'stop') server.close(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
