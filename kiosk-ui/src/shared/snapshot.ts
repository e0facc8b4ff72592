import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { asApiError, type ApiError } from './api.js';
import { useLive, useOnLiveOpen } from './live.js';

export interface Snapshot<T> {
  data: T | null;
  /** The last failure (null after a success); the last data is kept meanwhile. */
  error: ApiError | null;
  loading: boolean;
  reload(): void;
  /** Replaces the data from a live event. */
  setData(update: (current: T | null) => T | null): void;
}

/**
 * Data fetched over HTTP and kept current: fetched at start and after every reconnect of the live
 * socket; while the network or server is down, retried with backoff (1 s → 30 s) keeping the last data.
 */
export function useSnapshot<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Snapshot<T> {
  const live = useLive();
  const [data, setDataState] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const run = useRef<{ abort: AbortController; timer: ReturnType<typeof setTimeout> | null } | null>(null);

  const fetchNow = useCallback(
    (attempt = 0) => {
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
          live.markData();
        },
        (err: unknown) => {
          if (run.current !== current || current.abort.signal.aborted) return;
          const e = asApiError(err);
          setError(e);
          setLoading(false);
          if (e.transient) current.timer = setTimeout(() => fetchNow(attempt + 1), Math.min(1000 * 2 ** attempt, 30_000));
        },
      );
    },
    [live],
  );

  useEffect(() => {
    fetchNow();
    return () => {
      run.current?.abort.abort();
      if (run.current?.timer) clearTimeout(run.current.timer);
      run.current = null;
    };
  }, [fetchNow, key]);
  useOnLiveOpen(() => fetchNow());

  const setData = useCallback((update: (current: T | null) => T | null) => setDataState(update), []);
  return { data, error, loading, reload: () => fetchNow(), setData };
}
