import { render } from 'preact';
import { ErrorBoundary } from '../shared/error-boundary.js';
import { LangProvider, LangToggle, useT } from '../shared/i18n.js';
import { PortalApp } from './App.js';
import { S } from './strings.js';
import '../shared/base.css';
import './portal.css';

function ErrorPage() {
  const t = useT(S);
  return (
    <div class="portal-center" data-testid="error-screen">
      <div class="card center-card">
        <div class="center-icon" aria-hidden="true">
          !
        </div>
        <h1>{t('errorTitle')}</h1>
        <p class="muted">{t('errorBody')}</p>
        <button type="button" class="btn btn-primary" onClick={() => location.reload()}>
          {t('errorReload')}
        </button>
        <LangToggle />
      </div>
    </div>
  );
}

const host = document.getElementById('app');
if (host) {
  render(
    <LangProvider>
      <ErrorBoundary fallback={<ErrorPage />}>
        <PortalApp />
      </ErrorBoundary>
    </LangProvider>,
    host,
  );
}
