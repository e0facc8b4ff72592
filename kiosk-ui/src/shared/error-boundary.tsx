import { Component, type ComponentChildren } from 'preact';
import { setErrorReporter } from './live.js';

/**
 * Catches render errors and script errors nobody handled and shows `fallback` instead: an error page in
 * the app's words, never a blank page. Errors reported through live.ts (a failing event listener) count too.
 */
export class ErrorBoundary extends Component<{ fallback: ComponentChildren; children: ComponentChildren }, { failed: boolean }> {
  state = { failed: false };
  private readonly onError = (event: ErrorEvent) => this.fail(event.error ?? event.message, event);
  private readonly onRejection = (event: PromiseRejectionEvent) => this.fail(event.reason, event);

  componentDidMount() {
    window.addEventListener('error', this.onError);
    window.addEventListener('unhandledrejection', this.onRejection);
    setErrorReporter((err) => this.fail(err));
  }
  componentWillUnmount() {
    window.removeEventListener('error', this.onError);
    window.removeEventListener('unhandledrejection', this.onRejection);
    setErrorReporter(null);
  }
  componentDidCatch(error: unknown) {
    this.fail(error);
  }
  private fail(error: unknown, event?: Event) {
    // Chromium reports a harmless ResizeObserver notice as an error event; it is not a failure.
    if (String((error as Error)?.message ?? error).includes('ResizeObserver loop')) return;
    event?.preventDefault();
    console.error('page error:', error);
    this.setState({ failed: true });
  }
  render() {
    return this.state.failed ? this.props.fallback : this.props.children;
  }
}
