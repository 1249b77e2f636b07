import { describe, expect, it } from 'vitest';
import { hostAccessOf, originPattern, patternOrigin, providerMatches, sitePatterns } from '../../extension/background/host-access.js';

describe('host access', () => {
  it('tells all sites from a list of chosen sites, from what Chrome granted', () => {
    expect(hostAccessOf(['<all_urls>'])).toEqual({ mode: 'all', sites: [] });
    expect(hostAccessOf(['*://*/*', 'https://a.example/*'])).toEqual({ mode: 'all', sites: [] });
    expect(hostAccessOf(['https://b.example/*', 'http://127.0.0.1:8403/*', 'https://b.example/*', '*://*.example/*'])).toEqual({
      mode: 'chosen',
      sites: ['http://127.0.0.1:8403', 'https://b.example'],
    });
    expect(hostAccessOf([])).toEqual({ mode: 'chosen', sites: [] });
  });
  it('registers the in-page provider exactly where access was granted (nowhere without any)', () => {
    expect(providerMatches(['<all_urls>'])).toEqual(['<all_urls>']);
    expect(providerMatches(['https://b.example/*', 'http://127.0.0.1:8403/*'])).toEqual(['http://127.0.0.1:8403/*', 'https://b.example/*']);
    expect(providerMatches([])).toEqual([]);
  });
  it('turns what a person types into match patterns of whole origins', () => {
    expect(sitePatterns('https://shop.example/articles/1\nnews.example,  http://127.0.0.1:8403')).toEqual([
      'https://shop.example/*',
      'https://news.example/*',
      'http://127.0.0.1:8403/*',
    ]);
    expect(sitePatterns('  \n ')).toEqual([]);
    expect(() => sitePatterns('ftp://files.example')).toThrow(/not a site address/);
    expect(() => sitePatterns('http://')).toThrow(/not a site address/);
    expect(originPattern('https://shop.example:8443')).toBe('https://shop.example:8443/*');
    expect(patternOrigin('https://shop.example:8443/*')).toBe('https://shop.example:8443');
    expect(patternOrigin('https://*.example/*')).toBeNull();
  });
});
