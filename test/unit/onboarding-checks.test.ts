/**
 * The onboarding page's three checks, outside the browser: the password strength estimate, the
 * random choice of recovery words to retype, and the live "is this a Tollway hub?" check against a
 * real hub, a server that is not one, and a port nobody listens on.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHub, hubOrigin } from '../../extension/onboarding/hub-check.js';
import { passwordStrength } from '../../extension/onboarding/password-strength.js';
import { pickWordPositions, wrongWords } from '../../extension/onboarding/recovery-check.js';
import { freePort, startTestHub, type TestHub } from '../helpers/hub.js';

describe('password strength', () => {
  it('calls short passwords too short whatever they hold', () => {
    expect(passwordStrength('x9$Kq!2')).toMatchObject({ level: 'too-short', hint: 'longer' });
    expect(passwordStrength('')).toMatchObject({ level: 'too-short' });
  });

  it('prices common passwords, repeats, sequences and years as the first guesses they are', () => {
    for (const p of ['password', 'Password1', 'qwertyuiop', 'letmein!', 'tollway2026']) expect(passwordStrength(p).level).toBe('weak');
    expect(passwordStrength('Password1').hint).toBe('common');
    for (const p of ['aaaaaaaaaaaa', 'abcdefghijkl', '1234567890', 'abcabcabcabc', '11111111'])
      expect(passwordStrength(p)).toMatchObject({ level: 'weak', hint: 'pattern' });
  });

  it('counts a readable word as one dictionary word, not as random letters', () => {
    // 13 random lower-case letters are 61 bits; one long word is about 16.
    expect(passwordStrength('extraordinary').level).toBe('weak');
    expect(passwordStrength('xkqpzvmtrwlbn').bits).toBeGreaterThan(55);
  });

  it('rates more words and more randomness higher, and says what would help', () => {
    const levels = ['weak', 'fair', 'good', 'strong'];
    const two = passwordStrength('orange helicopter');
    const three = passwordStrength('correct horse battery');
    const five = passwordStrength('correct horse battery staple lantern');
    expect(levels.indexOf(two.level)).toBeLessThan(levels.indexOf(three.level));
    expect(levels.indexOf(three.level)).toBeLessThan(levels.indexOf(five.level));
    expect(three.level).toBe('good');
    expect(five).toMatchObject({ level: 'strong', hint: null });
    expect(two.hint).toBe('longer');
    expect(passwordStrength('v7#Qm2!xR9@kLp4$').level).toBe('strong');
  });
});

describe('recovery words to retype', () => {
  it('picks distinct positions within the phrase, in order, from the random source given', () => {
    const answers = [5, 5, 11, 0, 3];
    const positions = pickWordPositions(12, 3, () => answers.shift()!);
    expect(positions).toEqual([0, 5, 11]);
    expect(() => pickWordPositions(2, 3)).toThrow();
  });

  it('uses every position over many draws from the crypto source', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const p = pickWordPositions(12);
      expect(new Set(p).size).toBe(3);
      expect(p.every((x) => x >= 0 && x < 12)).toBe(true);
      for (const x of p) seen.add(x);
    }
    expect(seen.size).toBe(12);
  });

  it('accepts the right words whatever their case and spacing, and names each wrong one', () => {
    const phrase = 'abandon ability able about above absent absorb abstract absurd abuse access accident'.split(' ');
    expect(
      wrongWords(
        phrase,
        new Map([
          [1, ' Ability '],
          [4, 'above'],
          [11, 'ACCIDENT'],
        ]),
      ),
    ).toEqual([]);
    expect(
      wrongWords(
        phrase,
        new Map([
          [1, 'ability'],
          [4, 'about'],
          [11, ''],
        ]),
      ),
    ).toEqual([4, 11]);
  });
});

describe('is there a hub at this address', () => {
  let hub: TestHub;
  let other: Server;
  let otherUrl: string;

  beforeAll(async () => {
    hub = await startTestHub('sqlite');
    other = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ hello: 'not a hub' }));
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await hub?.stop();
    await new Promise((r) => other?.close(r));
  });

  it('reads the address as a person types it', () => {
    expect(hubOrigin('  http://127.0.0.1:8402/some/path ')).toBe('http://127.0.0.1:8402');
    expect(hubOrigin('127.0.0.1:8402')).toBe('http://127.0.0.1:8402');
    expect(hubOrigin('localhost:8402')).toBe('http://localhost:8402');
    expect(hubOrigin('hub.example')).toBe('https://hub.example');
    expect(hubOrigin('ftp://hub.example')).toBeNull();
    expect(hubOrigin('https://user:pw@hub.example')).toBeNull();
    expect(hubOrigin('')).toBeNull();
    expect(hubOrigin('http://')).toBeNull();
  });

  it('finds a real hub and the rails it has', async () => {
    expect(await checkHub(`${hub.url}/`)).toEqual({ ok: true, url: hub.url, rails: expect.arrayContaining(['internal']) });
  });

  it('tells a server that is not a hub, a closed port and a non-address apart', async () => {
    expect(await checkHub(otherUrl)).toEqual({ ok: false, url: otherUrl, problem: 'not-a-hub' });
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await checkHub(closed)).toEqual({ ok: false, url: closed, problem: 'unreachable' });
    expect(await checkHub('not a url at all')).toEqual({ ok: false, url: null, problem: 'not-a-url' });
  });
});
