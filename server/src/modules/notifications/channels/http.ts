/** How long one request to a gateway or robot may take before it counts as failed (and is retried). */
export const HTTP_TIMEOUT_MS = 15_000;
/** How much of a peer's answer an error keeps: enough to read what went wrong. */
const ERROR_EXCERPT = 300;

/** A send that did not go through, with what the peer or the network said. */
export class SendError extends Error {
  override name = 'SendError';
}

export interface HttpAnswer {
  status: number;
  text: string;
}

/** One HTTP request with a timeout; a network failure becomes a SendError naming its cause. */
export async function request(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<HttpAnswer> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new SendError(`request to ${new URL(url).host} failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  const text = await res.text().catch(() => '');
  return { status: res.status, text };
}

export const excerpt = (text: string): string => (text.length > ERROR_EXCERPT ? `${text.slice(0, ERROR_EXCERPT)}…` : text);

/**
 * A robot's answer (WeCom and DingTalk alike): HTTP 200 with `{"errcode":0}` is success; anything
 * else is an error naming their code and message.
 */
export function robotAnswer(name: string, answer: HttpAnswer): void {
  if (answer.status < 200 || answer.status > 299) throw new SendError(`${name}: HTTP ${answer.status} ${excerpt(answer.text)}`);
  let parsed: { errcode?: unknown; errmsg?: unknown };
  try {
    parsed = JSON.parse(answer.text) as typeof parsed;
  } catch {
    throw new SendError(`${name}: answer is not JSON: ${excerpt(answer.text)}`);
  }
  if (parsed?.errcode !== 0) throw new SendError(`${name}: errcode ${String(parsed?.errcode)} ${excerpt(String(parsed?.errmsg ?? ''))}`);
}
