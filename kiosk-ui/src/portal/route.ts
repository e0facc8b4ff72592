import { useEffect, useState } from 'preact/hooks';

/** The portal's pages, each with its own address (the server answers every one with the same page). */
export type Route =
  | { name: 'home' }
  | { name: 'invoices' }
  | { name: 'confirm'; id: number }
  | { name: 'evaluate'; matterId: number }
  | { name: 'sign'; token: string }
  | { name: 'unknown' };

const id = (text: string) => (/^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : null);

/**
 * The signing token travels in the fragment (`/portal/sign#t=…`): a browser never sends the fragment,
 * so the token stays out of the server's request log and of any proxy's.
 */
export function parseRoute(pathname: string, hash: string): Route {
  const path = pathname.replace(/\/+$/, '') || '/';
  if (path === '/portal') return { name: 'home' };
  if (path === '/portal/invoices') return { name: 'invoices' };
  if (path === '/portal/sign') return { name: 'sign', token: new URLSearchParams(hash.replace(/^#/, '')).get('t')?.trim() ?? '' };
  const m = /^\/portal\/(confirm|evaluate)\/([^/]+)$/.exec(path);
  const n = m ? id(m[2]) : null;
  if (m && n !== null) return m[1] === 'confirm' ? { name: 'confirm', id: n } : { name: 'evaluate', matterId: n };
  return { name: 'unknown' };
}

const CHANGE = 'portal:navigate';

/** Goes to another page of the portal without reloading (the back button returns). */
export function navigate(href: string, replace = false): void {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.dispatchEvent(new Event(CHANGE));
  window.scrollTo(0, 0);
}

/** Whether a link (as a notice carries it) is a page of this portal, opened in place. */
export const isPortalLink = (href: string) => /^\/portal(\/|$|\?)/.test(href);

export function useRoute(): Route {
  const read = () => parseRoute(location.pathname, location.hash);
  const [route, setRoute] = useState<Route>(read);
  useEffect(() => {
    const update = () => setRoute(read());
    window.addEventListener('popstate', update);
    window.addEventListener('hashchange', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener('hashchange', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return route;
}

/** An anchor that changes the page in place; a modified click (new tab) is left to the browser. */
export function onLinkClick(href: string) {
  return (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
}
