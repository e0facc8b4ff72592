import { useT } from '../shared/i18n.js';
import { onLinkClick } from './route.js';
import { S } from './strings.js';

/** Back to the overview: the portal's pages are reached from it (or from a notice's link). */
export function BackLink() {
  const t = useT(S);
  return (
    <a class="back-link" href="/portal/" data-testid="back-home" onClick={onLinkClick('/portal/')}>
      ‹ {t('backHome')}
    </a>
  );
}
