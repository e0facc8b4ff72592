import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Type, type TSchema } from 'typebox';
import { KIOSK_KINDS } from '../modules/auth/roles.js';
import { Empty, IdParams, responses } from '../schemas.js';

/** kiosk-ui/dist, built by `npm run build` (and so by `npm ci` and `npm start`); the same path from src/ and dist/. */
export const KIOSK_UI_DIR = fileURLToPath(new URL('../../../kiosk-ui/dist/', import.meta.url));

const NOT_BUILT = `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>lawbox</title>
<body style="font-family:sans-serif;padding:4rem;font-size:1.5rem;line-height:1.6">
<h1>页面尚未构建</h1><p>请在服务器上运行 <code>npm run build</code>，然后刷新本页。</p>
<p lang="en">The browser apps are not built yet: run <code>npm run build</code> on the server, then reload.</p></body></html>`;

/**
 * Serves the kiosk apps: `/kiosk/<kind>` is the app's page, `/kiosk/assets/…` its hashed bundles. The
 * pages are public (an unenrolled screen must be able to show its enrolment page); everything they
 * show comes from kiosk routes that check the screen's token. The client portal is served the same
 * way at `/portal` and its own pages' addresses (what clients' links point to); its data needs the
 * client's portal session, or for signing the link's token.
 */
export const kioskUiRoutes: FastifyPluginAsync = async (app) => {
  const built = existsSync(`${KIOSK_UI_DIR}lobby/index.html`);
  // The bundles are as public as the pages; @fastify/static takes no route config, so it is set on its routes here.
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object), public: true };
  });
  if (built) {
    await app.register(fastifyStatic, {
      root: KIOSK_UI_DIR,
      prefix: '/kiosk/',
      index: false,
      wildcard: true,
      // Bundles carry a content hash in their names; pages must be fetched anew to pick up a new build.
      setHeaders: (res, path) => res.header('cache-control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
    });
  }
  const schema = {
    tags: ['kiosks'],
    summary: 'A kiosk app page',
    hide: true,
    querystring: Type.Object({ enrol: Type.Optional(Type.String({ maxLength: 40 })) }, { additionalProperties: false }),
    response: responses({ 200: Type.String({ description: 'the app’s page (HTML)' }), 503: Type.String({ description: 'what to do while the apps are not built (HTML)' }) }),
  };
  const page = (app: string) => async (_request: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-cache');
    if (!built) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.type('text/html; charset=utf-8').sendFile(`${app}/index.html`, KIOSK_UI_DIR);
  };
  for (const kind of KIOSK_KINDS) {
    for (const url of [`/kiosk/${kind}`, `/kiosk/${kind}/`]) app.get(url, { schema }, page(kind));
  }

  // The portal's pages are one app: each address below answers the same page, which shows its part.
  const portalSchema = (summary: string, extra: { params?: TSchema; querystring?: TSchema } = {}) => ({
    tags: ['portal'],
    summary,
    hide: true,
    querystring: Empty,
    ...extra,
    response: responses({ 200: Type.String({ description: 'the portal’s page (HTML)' }), 503: Type.String({ description: 'what to do while the apps are not built (HTML)' }) }),
  });
  // Access codes and signing tokens ride in the fragment (`#code=…`, `#t=…`), which never reaches the
  // server: the pages take no query, so no secret can end up in a request log.
  for (const url of ['/portal', '/portal/']) app.get(url, { schema: portalSchema('The client portal (an access code comes as #code=…)') }, page('portal'));
  app.get('/portal/invoices', { schema: portalSchema('The client portal: invoice requests') }, page('portal'));
  app.get('/portal/confirm/:id', { schema: portalSchema('The client portal: a text to confirm', { params: IdParams }) }, page('portal'));
  app.get('/portal/evaluate/:id', { schema: portalSchema('The client portal: rating a closed matter', { params: IdParams }) }, page('portal'));
  app.get('/portal/sign', { schema: portalSchema('Signing by one-time link (#t=…; no portal session needed)') }, page('portal'));
};
