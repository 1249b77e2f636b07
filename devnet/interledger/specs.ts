/**
 * The official Open Payments OpenAPI documents, as the `@interledger/open-payments` package ships them,
 * loaded through `@interledger/openapi` (the same validators the official client checks responses
 * with). Every request the stand-in accepts passes the request validator of its operation, and every
 * response it sends passes the response validator, or it is not sent: see `SpecViolation`.
 */
import { HttpMethod, type OpenAPI } from '@interledger/openapi';
import { getAuthServerOpenAPI, getResourceServerOpenAPI, getWalletAddressServerOpenAPI } from '@interledger/open-payments';

export type SpecName = 'auth' | 'resource' | 'wallet-address';

/** An operation of one of the three specs: the spec's path key (`/incoming-payments/{id}`) and method. */
export interface Operation {
  spec: SpecName;
  path: string;
  method: 'get' | 'post' | 'delete';
}

export interface RequestParts {
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
  params: Record<string, string>;
}

/** A response the stand-in was about to send that its own spec forbids: a bug in the stand-in. */
export class SpecViolation extends Error {
  override name = 'SpecViolation';
}

export interface Specs {
  /** The spec's error messages for an invalid request, or undefined when it is valid. */
  checkRequest(op: Operation, req: RequestParts): string[] | undefined;
  /** Throws SpecViolation for a response the operation does not allow. */
  checkResponse(op: Operation, status: number, body: unknown): void;
  /**
   * Throws SpecViolation for an error body that does not have the spec's error shape. For a request
   * refused before it reached an operation (malformed, or a status the operation does not list, such
   * as 400 on a request the validator refused), the body is checked against the spec's shared error schema.
   */
  checkErrorShape(spec: SpecName, status: number, body: unknown): void;
}

const METHOD = { get: HttpMethod.GET, post: HttpMethod.POST, delete: HttpMethod.DELETE } as const;

function messages(err: unknown): string[] {
  const errors = (err as { errors?: { message?: string }[] })?.errors;
  if (Array.isArray(errors)) return errors.map((e) => String(e.message ?? e));
  return [err instanceof Error ? err.message : String(err)];
}

export async function loadSpecs(): Promise<Specs> {
  const docs: Record<SpecName, OpenAPI> = {
    auth: await getAuthServerOpenAPI(),
    resource: await getResourceServerOpenAPI(),
    'wallet-address': await getWalletAddressServerOpenAPI(),
  };
  const requestValidators = new Map<string, (req: unknown) => boolean>();
  const responseValidators = new Map<string, (res: { status: number; body: unknown }) => boolean>();
  const key = (op: Operation) => `${op.spec} ${op.method} ${op.path}`;
  const requestValidator = (op: Operation) => {
    let v = requestValidators.get(key(op));
    if (!v) requestValidators.set(key(op), (v = docs[op.spec].createRequestValidator({ path: op.path, method: METHOD[op.method] })));
    return v;
  };
  const responseValidator = (op: Operation) => {
    let v = responseValidators.get(key(op));
    if (!v) responseValidators.set(key(op), (v = docs[op.spec].createResponseValidator({ path: op.path, method: METHOD[op.method] })));
    return v;
  };
  // Operations whose error responses carry each spec's shared error schemas: the resource server's
  // `error-response` (its 400), the auth server's GNAP errors (the grant request's 400 and 401).
  const errorShapes: Record<SpecName, Operation | undefined> = {
    resource: { spec: 'resource', path: '/quotes', method: 'post' },
    auth: { spec: 'auth', path: '/', method: 'post' },
    'wallet-address': undefined,
  };
  // Validators never see node's header objects: the coercer and default setter write into what they get.
  const copy = (req: RequestParts): RequestParts => ({
    body: req.body,
    headers: { ...req.headers },
    query: { ...req.query },
    params: { ...req.params },
  });
  return {
    checkRequest(op, req) {
      try {
        requestValidator(op)(copy(req));
        return undefined;
      } catch (err) {
        return messages(err);
      }
    },
    checkResponse(op, status, body) {
      try {
        responseValidator(op)({ status, body });
      } catch (err) {
        throw new SpecViolation(
          `${op.method.toUpperCase()} ${op.path} (${op.spec} server) answering ${status}: ${messages(err).join('; ')}`,
        );
      }
    },
    checkErrorShape(spec, status, body) {
      const op = errorShapes[spec];
      if (!op) {
        if (body !== undefined) throw new SpecViolation(`the ${spec} spec defines no error bodies`);
        return;
      }
      // The shared schema is reachable through an operation that lists it: 400 for both specs.
      try {
        responseValidator(op)({ status: 400, body });
      } catch (err) {
        throw new SpecViolation(`an error answered with ${status} by the ${spec} server: ${messages(err).join('; ')}`);
      }
    },
  };
}
