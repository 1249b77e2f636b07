import { z } from 'zod';

function isHttpUrl(s: string, allowCredentials: boolean): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && (allowCredentials || (!u.username && !u.password));
  } catch {
    return false;
  }
}

/** An absolute http(s) URL (what a page, a resource or a webhook is addressed by). */
export const HttpUrl = z
  .string()
  .max(4096)
  .refine((s) => isHttpUrl(s, true), 'must be an absolute http(s) URL');

/** An http(s) origin-like URL with no credentials in it (a hub address a person types). */
export const ServiceUrl = z
  .string()
  .max(2048)
  .refine((s) => isHttpUrl(s, false), 'must be an http(s) URL without credentials');
