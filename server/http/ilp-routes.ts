import { type Response, Router } from 'express';
import { IlpFinishQuery, LinkIlpWalletRequest } from '../../shared/ilp.js';
import { ProblemError } from '../../shared/problem.js';
import type { FinishOutcome, InterledgerApi } from '../rails/ilp/api.js';
import { requireUser } from './auth-routes.js';
import type { AuthedUser, HttpDeps } from './deps.js';
import { jsonBody, parse } from './validate.js';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The page a person lands on after their wallet's consent page: what happened, and that the tab may close. */
function finishPage(res: Response, outcome: FinishOutcome['outcome']): void {
  const [title, text] =
    outcome.status === 'completed'
      ? ['Payment sent', 'Your wallet has paid. You can close this tab and go back to the page you were on.']
      : outcome.status === 'submitted'
        ? [
            'Payment on its way',
            'Your wallet is sending the payment. You can close this tab: the page you were on is told when it arrives.',
          ]
        : ['Payment not made', `${outcome.reason}. You can close this tab.`];
  res
    .status(200)
    .type('text/html; charset=utf-8')
    .set('Cache-Control', 'no-store')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Tollway</title></head>` +
        `<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></main></body></html>`,
    );
}

/**
 * The Interledger rail's routes: the person's linked wallet address, the wallet's consent redirect
 * (`/ilp/finish`, reached by the person's browser, so it answers a page), the grants the hub holds
 * for them, and where one of their payments stands at the wallet.
 */
export function ilpRoutes(deps: Pick<HttpDeps, 'auth'> & { ilp?: InterledgerApi }): Router {
  const r = Router();
  const authed = requireUser(deps);
  const api = (): InterledgerApi => {
    if (!deps.ilp) throw new ProblemError('unsupported-rail', 'the ilp rail is not enabled on this hub');
    return deps.ilp;
  };
  const userId = (res: Response) => (res.locals.user as AuthedUser).id;

  r.put('/ilp/wallet', authed, async (req, res) => {
    const body = parse(LinkIlpWalletRequest, jsonBody(req), 'body');
    res.json(await api().linkWallet(userId(res), body.walletAddress));
  });
  r.get('/ilp/wallet', authed, async (_req, res) => {
    const w = await api().wallet(userId(res));
    if (!w) throw new ProblemError('not-found', 'no Interledger wallet address is linked');
    res.json(w);
  });
  r.delete('/ilp/wallet', authed, async (_req, res) => {
    if (!(await api().unlinkWallet(userId(res)))) throw new ProblemError('not-found', 'no Interledger wallet address is linked');
    res.status(204).end();
  });
  r.get('/ilp/finish', async (req, res) => {
    const q = parse(IlpFinishQuery, req.query, 'query');
    const { outcome } = await api().finish(q);
    finishPage(res, outcome);
  });
  r.get('/ilp/grants', authed, async (_req, res) => {
    res.json({ data: await api().grants(userId(res)) });
  });
  r.delete('/ilp/grants/:id', authed, async (req, res) => {
    const id = String(req.params.id);
    if (!/^igr_[A-Za-z0-9_-]{16}$/.test(id) || !(await api().revokeGrant(userId(res), id)))
      throw new ProblemError('not-found', 'no such grant');
    res.status(204).end();
  });
  r.get('/ilp/payments/:id', authed, async (req, res) => {
    const id = String(req.params.id);
    const state = /^pay_[A-Za-z0-9_-]{1,64}$/.test(id) ? await api().paymentState(userId(res), id) : undefined;
    if (!state) throw new ProblemError('not-found', 'no such payment on the ilp rail');
    res.json(state);
  });
  return r;
}
