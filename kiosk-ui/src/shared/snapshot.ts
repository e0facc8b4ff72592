import { useLive, useOnLiveOpen } from './live.js';
import { useLoad, type Loaded } from './load.js';

export type Snapshot<T> = Loaded<T>;

/**
 * Data fetched over HTTP and kept current on a kiosk: fetched at start and after every reconnect of
 * the live socket; while the network or server is down, retried with backoff (1 s → 30 s) keeping the
 * last data. Each success tells the live connection the screen's data is current.
 */
export function useSnapshot<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Snapshot<T> {
  const live = useLive();
  const loaded = useLoad(load, key, { onData: () => live.markData() });
  useOnLiveOpen(() => loaded.reload());
  return loaded;
}
