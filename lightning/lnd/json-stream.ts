/**
 * LND's REST gateway (grpc-gateway) streams a server-streaming RPC as newline-delimited JSON:
 * every message is `{"result": …}` and a failure is `{"error": {code, message, details}}`. Chunks
 * arrive cut anywhere, in the middle of a line or of a UTF-8 character.
 */

/** A gRPC status as the gateway writes it. */
export interface GrpcStatus {
  code: number;
  message: string;
}

/** The node answered with a gRPC status instead of (more) results. */
export class GrpcStatusError extends Error {
  constructor(
    readonly status: GrpcStatus,
    /** HTTP status of the response it arrived in. */
    readonly httpStatus: number,
  ) {
    super(status.message || `gRPC status ${status.code}`);
  }
}

/** The bytes were not the JSON stream LND writes. */
export class StreamFormatError extends Error {}

export function asGrpcStatus(v: unknown): GrpcStatus | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const code = typeof o.code === 'number' ? o.code : typeof o.code === 'string' && /^\d+$/.test(o.code) ? Number(o.code) : undefined;
  if (code === undefined) return undefined;
  return { code, message: typeof o.message === 'string' ? o.message : typeof o.error === 'string' ? o.error : '' };
}

/** Splits text chunks into lines; the last line need not end with a newline. */
export async function* lines(chunks: AsyncIterable<string | Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let buf = '';
  for await (const chunk of chunks) {
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line.trim()) yield line;
    }
  }
  buf += decoder.decode();
  if (buf.trim()) yield buf.replace(/\r$/, '');
}

/**
 * The `result` of each message, in order. An `error` message throws GrpcStatusError; anything
 * that is not one of the two throws StreamFormatError.
 */
export async function* results(chunks: AsyncIterable<string | Uint8Array>, httpStatus = 200): AsyncGenerator<unknown> {
  for await (const line of lines(chunks)) {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      throw new StreamFormatError(`not JSON: ${line.slice(0, 80)}`);
    }
    if (msg && typeof msg === 'object' && 'result' in msg) {
      yield (msg as { result: unknown }).result;
      continue;
    }
    const status = msg && typeof msg === 'object' && 'error' in msg ? asGrpcStatus((msg as { error: unknown }).error) : undefined;
    if (status) throw new GrpcStatusError(status, httpStatus);
    throw new StreamFormatError(`neither result nor error: ${line.slice(0, 80)}`);
  }
}
