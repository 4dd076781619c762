import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isQuorumError, type ApiErrorBody, type QuorumErrorCode } from '@quorum/core';

/** The one table from error codes to HTTP statuses. */
const STATUS: Record<QuorumErrorCode, number> = {
  'invalid-purl': 400,
  'missing-version': 400,
  'unknown-ecosystem': 400,
  'unknown-registry': 400,
  'invalid-input': 400,
  'source-not-found': 422,
  'unsafe-archive': 422,
  'unsafe-output': 422,
  'egress-refused': 422,
  unauthorized: 401,
  'rate-limited': 429,
  unavailable: 503,
  'integrity-mismatch': 422,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'upstream-unavailable': 502,
  internal: 500,
};

/** Maps any thrown error to a JSON error body; 5xx answers hide internals. */
export function errorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  let status = 500;
  let body: ApiErrorBody;
  if (isQuorumError(err)) {
    // a refusal may name a more precise 4xx than its code's (411 length required, 413, 415)
    const explicit = (err as { statusCode?: unknown }).statusCode;
    status = typeof explicit === 'number' && explicit >= 400 && explicit < 500 ? explicit : STATUS[err.code];
    body = { error: { code: err.code, message: err.message } };
  } else if ('validation' in err && err.validation) {
    status = 400;
    body = { error: { code: 'invalid-input', message: err.message } };
  } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    status = err.statusCode;
    body = { error: { code: status === 404 ? 'not-found' : 'invalid-input', message: err.message } };
  } else {
    body = { error: { code: 'internal', message: 'internal error; see the coordinator log' } };
  }
  if (status >= 500 && status !== 502) req.log.error({ err }, 'request failed');
  else req.log.info({ code: body.error.code, msg: body.error.message }, 'request rejected');
  if (status >= 500 && status !== 502) body = { error: { code: 'internal', message: 'internal error; see the coordinator log' } };
  void reply.status(status).send(body);
}
