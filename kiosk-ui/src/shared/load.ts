import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { asApiError, type ApiError } from './api.js';

export interface Loaded<T> {
  data: T | null;
  /** The last failure (null after a success); the last data is kept meanwhile. */
  error: ApiError | null;
  loading: boolean;
  reload(): void;
  setData(update: (current: T | null) => T | null): void;
}

export interface LoadOptions {
  /** Called after each successful fetch (a live connection notes the data as current). */
  onData?: () => void;
  /** Fetches again whenever the tab becomes visible (a browser tab left in the background). */
  refetchOnVisible?: boolean;
}

/**
 * Data fetched over HTTP: when the component mounts or `key` changes, on `reload()`, and retried with
 * backoff (1 s → 30 s) while the network or the server is down, keeping the last data meanwhile.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, key: string, options: LoadOptions = {}): Loaded<T> {
  const [data, setDataState] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const onDataRef = useRef(options.onData);
  onDataRef.current = options.onData;
  const run = useRef<{ abort: AbortController; timer: ReturnType<typeof setTimeout> | null } | null>(null);

  const fetchNow = useCallback((attempt = 0) => {
    if (run.current) {
      run.current.abort.abort();
      if (run.current.timer) clearTimeout(run.current.timer);
    }
    const current = { abort: new AbortController(), timer: null as ReturnType<typeof setTimeout> | null };
    run.current = current;
    setLoading(true);
    loadRef.current(current.abort.signal).then(
      (value) => {
        if (run.current !== current) return;
        setDataState(value);
        setError(null);
        setLoading(false);
        onDataRef.current?.();
      },
      (err: unknown) => {
        if (run.current !== current || current.abort.signal.aborted) return;
        const e = asApiError(err);
        setError(e);
        setLoading(false);
        if (e.transient) current.timer = setTimeout(() => fetchNow(attempt + 1), Math.min(1000 * 2 ** attempt, 30_000));
      },
    );
  }, []);

  useEffect(() => {
    fetchNow();
    const onVisible = () => document.visibilityState === 'visible' && fetchNow();
    if (options.refetchOnVisible) document.addEventListener('visibilitychange', onVisible);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      run.current?.abort.abort();
      if (run.current?.timer) clearTimeout(run.current.timer);
      run.current = null;
    };
  }, [fetchNow, key, options.refetchOnVisible]);

  const setData = useCallback((update: (current: T | null) => T | null) => setDataState(update), []);
  return { data, error, loading, reload: () => fetchNow(), setData };
}
