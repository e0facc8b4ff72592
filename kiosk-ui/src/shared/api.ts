/** An error answered by the server (`{"error":{"code","message"}}`) or a failed request (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  /** Worth retrying by itself: the network or the server is down, not the request wrong. */
  get transient(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 503 || this.status === 504 || this.code === 'RATE_LIMITED';
  }
}

const NETWORK = 'The server cannot be reached; check the network. / 无法连接服务器，请检查网络。';
const UNEXPECTED = 'The server answered unexpectedly. / 服务器返回了无法识别的响应。';

let onAuthLost: (() => void) | null = null;
/** Called when the server no longer accepts this kiosk (revoked, re-enrolled elsewhere). */
export function setAuthLostHandler(handler: (() => void) | null): void {
  onAuthLost = handler;
}

async function send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'NETWORK', NETWORK);
  }
  if (response.ok) return response;
  let code = `HTTP_${response.status}`;
  let message = `${response.status} ${response.statusText || 'error'}. / 请求失败（${response.status}）。`;
  try {
    const parsed = (await response.json()) as { error?: { code?: string; message?: string } };
    if (parsed.error?.code) code = parsed.error.code;
    if (parsed.error?.message) message = parsed.error.message;
  } catch {
    // Not our JSON (a proxy's error page): the generic message stands.
  }
  if (code === 'KIOSK_AUTH_REQUIRED') onAuthLost?.();
  throw new ApiError(response.status, code, message);
}

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await send(method, path, method === 'GET' ? undefined : (body ?? {}), signal);
  if (response.status === 204) return undefined as T;
  try {
    return (await response.json()) as T;
  } catch {
    throw new ApiError(response.status, 'BAD_RESPONSE', UNEXPECTED);
  }
}

/** Binary content (a PDF): never cached by the browser, as the server also asks. */
export async function apiBytes(path: string, signal?: AbortSignal): Promise<ArrayBuffer> {
  const response = await send('GET', path, undefined, signal);
  return response.arrayBuffer();
}

export const asApiError = (err: unknown): ApiError =>
  err instanceof ApiError ? err : new ApiError(0, 'CLIENT_ERROR', `${err instanceof Error ? err.message : String(err)} / 终端出现错误。`);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
