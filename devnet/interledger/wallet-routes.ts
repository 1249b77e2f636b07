/** Wallet address documents and their JWKS: `GET <origin>/<name>` and `GET <origin>/<name>/jwks.json`. */
import type { Context } from './context.js';
import type { Route } from './http.js';

export function walletRoutes(ctx: Context): Route[] {
  const name = '(?<name>[a-z0-9][a-z0-9._-]{0,62})';
  return [
    {
      method: 'GET',
      pattern: new RegExp(`^/${name}/?$`),
      op: { spec: 'wallet-address', path: '/', method: 'get' },
      handle(req) {
        const w = ctx.wallets.byName(req.params.name!);
        if (!w) return { status: 404 };
        return {
          status: 200,
          headers: { 'cache-control': 'max-age=60' },
          json: {
            id: w.url,
            ...(w.publicName ? { publicName: w.publicName } : {}),
            assetCode: w.assetCode,
            assetScale: w.assetScale,
            authServer: ctx.authServer,
            resourceServer: ctx.resourceServer,
          },
        };
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/${name}/jwks\\.json$`),
      op: { spec: 'wallet-address', path: '/jwks.json', method: 'get' },
      handle(req) {
        const w = ctx.wallets.byName(req.params.name!);
        if (!w) return { status: 404 };
        return { status: 200, json: { keys: [...w.keys.values()] } };
      },
    },
  ];
}
