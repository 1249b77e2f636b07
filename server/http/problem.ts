import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { ProblemError, problemType, PROBLEMS, type Problem, type ProblemCode } from '../../shared/problem.js';
import type { Logger } from '../logger.js';

export function sendProblem(res: Response, p: Problem): void {
  res.status(p.status).type('application/problem+json').send(JSON.stringify(p));
}

export function problem(code: ProblemCode, detail?: string, extra?: Record<string, unknown>): Problem {
  return new ProblemError(code, detail, extra).toProblem();
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, { ...problem('not-found', `no route for ${req.method} ${req.path}`), instance: req.originalUrl.slice(0, 200) });
};

/** Field issues from zod, as `errors: [{path, message}]`. */
export function validationProblem(err: z.ZodError, where: string): Problem {
  return problem('validation-error', `${where} is not valid`, {
    errors: err.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || where, message: i.message })),
  });
}

/**
 * Every error leaves as problem+json. Errors that are the client's (bad JSON, too large, wrong
 * charset) get their 4xx; anything else is a 500 whose detail never carries internals.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return void res.end();
    if (err instanceof ProblemError) return sendProblem(res, err.toProblem());
    if (err instanceof z.ZodError) return sendProblem(res, validationProblem(err, 'request'));
    const e = err as { type?: string; status?: number; statusCode?: number };
    switch (e.type) {
      case 'entity.parse.failed':
        return sendProblem(res, problem('validation-error', 'the body is not valid JSON'));
      case 'entity.too.large':
        return sendProblem(res, problem('payload-too-large'));
      case 'charset.unsupported':
      case 'encoding.unsupported':
        return sendProblem(res, problem('unsupported-media-type', 'unsupported charset or encoding'));
      case 'request.aborted':
        return void res.end();
    }
    const status = e.status ?? e.statusCode;
    if (status && status >= 400 && status < 500) {
      return sendProblem(res, {
        type: problemType('validation-error'),
        title: PROBLEMS['validation-error'].title,
        status,
        detail: 'the request could not be read',
      });
    }
    logger.error({ err, reqId: res.locals.requestId, method: req.method, path: req.path }, 'unhandled error');
    sendProblem(res, problem('internal', 'something went wrong on our side; the request changed nothing that it did not report'));
  };
}
