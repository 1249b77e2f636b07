/**
 * The `WWW-Authenticate` grammar (RFC 9110 §11.6.1): challenges with a scheme and either a token68
 * or `name=value` parameters, several per header value. The L402 and "Payment" dialects read it.
 */
import { CHALLENGE_LIMITS, type ChallengeError } from './codec.js';

export interface AuthChallenge {
  scheme: string;
  /** Parameter names lower-cased; the first of a repeated name wins. */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/**
 * Splits one `WWW-Authenticate` value into its challenges. Browsers and fetch join repeated headers
 * with ", ", so `LSAT macaroon="a", invoice="b", L402 macaroon="a", invoice="b"` is two challenges.
 * Returns null when the value cannot be read at all.
 */
export function parseAuthChallenges(value: string): AuthChallenge[] | null {
  const s = value;
  let i = 0;
  const out: AuthChallenge[] = [];
  const skipOws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const readToken = (at: number): [string, number] => {
    let j = at;
    while (j < s.length && TOKEN_CHAR.test(s[j]!)) j++;
    return [s.slice(at, j), j];
  };
  const paramAhead = (at: number): boolean => {
    const [name, j] = readToken(at);
    let k = j;
    while (k < s.length && (s[k] === ' ' || s[k] === '\t')) k++;
    if (!name.length || s[k] !== '=') return false;
    k++;
    while (k < s.length && (s[k] === ' ' || s[k] === '\t')) k++;
    // `name=value`; a '=' followed by '=', ',' or the end is a token68's padding instead.
    return k < s.length && (s[k] === '"' || TOKEN_CHAR.test(s[k]!));
  };
  const readQuoted = (): string | null => {
    // at the opening quote
    let v = '';
    i++;
    while (i < s.length) {
      const c = s[i]!;
      if (c === '\\') {
        if (i + 1 >= s.length) return null;
        v += s[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        return v;
      } else {
        v += c;
        i++;
      }
    }
    return null;
  };

  while (i < s.length) {
    while (i < s.length && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i++;
    if (i >= s.length) break;
    const [scheme, afterScheme] = readToken(i);
    if (!scheme) return null;
    i = afterScheme;
    const challenge: AuthChallenge = { scheme, params: Object.create(null) as Record<string, string> };
    if (out.length >= CHALLENGE_LIMITS.authChallenges) return null;
    out.push(challenge);
    skipOws();
    if (i >= s.length || s[i] === ',') continue;
    if (!paramAhead(i)) {
      // token68 (e.g. `Basic abc==`), or another scheme right after a bare one.
      let j = i;
      while (j < s.length && TOKEN68_CHAR.test(s[j]!)) j++;
      while (j < s.length && s[j] === '=') j++;
      if (j === i) return null;
      challenge.token68 = s.slice(i, j);
      i = j;
      continue;
    }
    for (;;) {
      const [name, afterName] = readToken(i);
      i = afterName;
      skipOws();
      i++; // the '=' paramAhead saw
      skipOws();
      let v: string | null;
      if (s[i] === '"') v = readQuoted();
      else {
        const [tok, afterTok] = readToken(i);
        v = tok.length ? tok : null;
        i = afterTok;
      }
      if (v === null) return null;
      const key = name.toLowerCase();
      if (!(key in challenge.params)) challenge.params[key] = v;
      skipOws();
      if (i >= s.length) break;
      if (s[i] !== ',') return null;
      while (i < s.length && (s[i] === ',' || s[i] === ' ' || s[i] === '\t')) i++;
      if (i >= s.length || !paramAhead(i)) break; // the next challenge starts here
    }
  }
  return out;
}

/**
 * The challenges of several `WWW-Authenticate` values in order, with a ChallengeError in place of
 * each value too large or too malformed to read, so a dialect can report the last thing it could
 * not read when it finds nothing of its own.
 */
export function* authChallengesIn(values: readonly string[]): Generator<AuthChallenge | ChallengeError> {
  for (const value of values) {
    if (typeof value !== 'string') continue;
    if (value.length > CHALLENGE_LIMITS.headerChars) {
      yield { code: 'too-large', message: 'WWW-Authenticate header too large' };
      continue;
    }
    const challenges = parseAuthChallenges(value);
    if (!challenges) yield { code: 'invalid', message: 'WWW-Authenticate header is malformed' };
    else yield* challenges;
  }
}

export const isChallengeError = (c: AuthChallenge | ChallengeError): c is ChallengeError => 'code' in c;
