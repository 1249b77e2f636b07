import type { z } from 'zod';
import { ProblemError } from './problem.js';

/** Field issues from zod as `{path, message}` (at most 20: enough to fix a request, not a flood). */
export function zodIssues(err: z.ZodError, where: string): { path: string; message: string }[] {
  return err.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || where, message: i.message }));
}

/** Parses with a zod schema; a failure is a `validation-error` problem that names each bad field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ProblemError('validation-error', `${where} is not valid`, { errors: zodIssues(r.error, where) });
}
