/**
 * Reading request bodies with a size cap that also holds for compressed bodies: the cap
 * applies to the DECOMPRESSED bytes, and inflating stops the moment it is exceeded, so a
 * gzip bomb costs at most `limit` bytes of memory and the time to inflate them.
 */
import type { Readable } from 'node:stream';
import { createGunzip, createInflate, type Gunzip, type Inflate } from 'node:zlib';

/** An HTTP answer decided while handling a request; `body.code` equals the status. */
export class HttpError extends Error {
  readonly code = 'ES_HTTP';
  constructor(
    readonly statusCode: number,
    readonly body: { code: number; error: string } & Record<string, unknown>,
    /** Close the connection after answering (the rest of the body was not read). */
    readonly closeConnection = false,
  ) {
    super(body.error);
    this.name = 'HttpError';
  }
}

/** Amplitude's 413 answer. */
export function payloadTooLarge(closeConnection = false): HttpError {
  return new HttpError(413, { code: 413, error: 'Payload too large' }, closeConnection);
}

export interface ReadBodyOptions {
  /** Largest body accepted, in bytes, after decompression. */
  limit: number;
  /** `Content-Encoding` header (identity, gzip, x-gzip, deflate). */
  encoding?: string;
  /** `Content-Length` header, when sent. */
  contentLength?: number;
  /**
   * Once over the limit, keep reading (and discarding) the raw body up to this many bytes so
   * the client can read our 413 instead of seeing a reset connection; past it the
   * connection is closed. Default: max(limit, 8 MB).
   */
  drainLimit?: number;
}

/**
 * Read `stream` fully and return the (decompressed) bytes. Rejects with `HttpError` 413 when
 * over the limit, 415 for an unsupported `Content-Encoding`, 400 for a corrupt compressed body.
 */
export function readBody(stream: Readable, opts: ReadBodyOptions): Promise<Buffer> {
  const limit = opts.limit;
  const drainLimit = opts.drainLimit ?? Math.max(limit, 8_000_000);
  const encoding = (opts.encoding ?? 'identity').trim().toLowerCase();
  let inflater: Gunzip | Inflate | null = null;
  if (encoding === 'gzip' || encoding === 'x-gzip') inflater = createGunzip();
  else if (encoding === 'deflate') inflater = createInflate();
  else if (encoding !== 'identity' && encoding !== '') {
    stream.resume();
    return Promise.reject(new HttpError(415, { code: 415, error: `Unsupported Content-Encoding: ${encoding.slice(0, 40)}` }));
  }
  // A declared length over the drain limit: answer at once, do not read a byte.
  if (opts.contentLength !== undefined && opts.contentLength > drainLimit) {
    return Promise.reject(payloadTooLarge(true));
  }

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let outBytes = 0;
    let rawBytes = 0;
    let over = false;
    let rawEnded = false;
    let settled = false;

    const settle = (err: Error | null, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      cleanup();
      if (err) reject(err);
      else resolve(value!);
    };
    const cleanup = (): void => {
      stream.off('data', onRaw);
      stream.off('end', onRawEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
      if (inflater) {
        inflater.off('data', onInflated);
        inflater.off('end', onInflatedEnd);
        inflater.off('error', onInflateError);
        inflater.on('error', () => {}); // late errors after destroy are expected
        inflater.destroy();
      }
    };
    const overLimit = (): void => {
      over = true;
      chunks.length = 0;
      if (inflater) {
        // Stop inflating now: the rest of a bomb is never expanded.
        inflater.off('data', onInflated);
        inflater.off('end', onInflatedEnd);
        inflater.on('error', () => {});
        inflater.destroy();
        inflater = null;
      }
    };
    const onRaw = (chunk: Buffer): void => {
      rawBytes += chunk.length;
      if (over) {
        if (rawBytes > drainLimit) {
          stream.pause();
          settle(payloadTooLarge(true));
        }
        return;
      }
      if (rawBytes > limit) {
        overLimit();
        if (rawBytes > drainLimit) {
          stream.pause();
          settle(payloadTooLarge(true));
        }
        return;
      }
      if (inflater) inflater.write(chunk);
      else {
        outBytes += chunk.length;
        chunks.push(chunk);
      }
    };
    const onRawEnd = (): void => {
      rawEnded = true;
      if (over) settle(payloadTooLarge());
      else if (inflater) inflater.end();
      else settle(null, Buffer.concat(chunks, outBytes));
    };
    const onInflated = (chunk: Buffer): void => {
      outBytes += chunk.length;
      if (outBytes > limit) {
        overLimit();
        // The raw body may have ended already (inflating lags behind reading).
        if (rawEnded) settle(payloadTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onInflatedEnd = (): void => {
      if (!over) settle(null, Buffer.concat(chunks, outBytes));
    };
    const onInflateError = (): void => {
      if (over) return;
      overLimit();
      over = false;
      // Keep draining the raw stream, then answer 400.
      stream.off('data', onRaw);
      stream.off('end', onRawEnd);
      stream.resume();
      settle(new HttpError(400, { code: 400, error: 'Invalid JSON request body' }));
    };
    const onError = (err: Error): void => settle(err);
    const onAborted = (): void => settle(new HttpError(400, { code: 400, error: 'Request aborted' }, true));

    stream.on('data', onRaw);
    stream.on('end', onRawEnd);
    stream.on('error', onError);
    stream.on('aborted', onAborted);
    if (inflater) {
      inflater.on('data', onInflated);
      inflater.on('end', onInflatedEnd);
      inflater.on('error', onInflateError);
    }
  });
}
