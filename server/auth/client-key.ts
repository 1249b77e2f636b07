/**
 * The key per-client limits count under. An IPv4 address is one client. For IPv6 it is the /64
 * the address is in: a single host or home network is normally given a whole /64, so counting
 * per address would let one machine pick a fresh address for every request.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const UNKNOWN_CLIENT = 'unknown';

export function clientKey(address: string | undefined): string {
  if (!address) return UNKNOWN_CLIENT;
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; that is still one IPv4 client.
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (isIPv4(address)) return address;
  if (isIPv6(address)) return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
  return UNKNOWN_CLIENT;
}

/** The eight 16-bit groups of a valid IPv6 address, in canonical lower-case hex without zero padding. */
function ipv6Groups(address: string): string[] {
  const bare = address.split('%')[0]!; // a zone id (fe80::1%eth0) is local detail, not part of the address
  const [head, tail] = bare.includes('::') ? (bare.split('::') as [string, string]) : [bare, undefined];
  const split = (part: string) => (part === '' ? [] : part.split(':').flatMap(embeddedIpv4));
  const h = split(head);
  const t = tail === undefined ? [] : split(tail);
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16));
}

/** `a.b.c.d` in the last 32 bits (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) → its two hex groups. */
function embeddedIpv4(group: string): string[] {
  if (!group.includes('.')) return [group];
  const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
