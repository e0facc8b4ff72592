import { api, asApiError, type ApiError } from '../shared/api.js';

/** The answers that mean this browser has no (or no longer a) portal session: back to the code entry. */
export const SESSION_CODES = ['PORTAL_AUTH_REQUIRED', 'PORTAL_SESSION_EXPIRED'];
export const isSessionLost = (e: ApiError) => e.status === 401 && SESSION_CODES.includes(e.code);

let onSessionLost: ((e: ApiError) => void) | null = null;
export function setSessionLostHandler(handler: ((e: ApiError) => void) | null): void {
  onSessionLost = handler;
}

/** A portal request: a lost session anywhere sends the client back to the code entry, with the reason. */
export async function portalApi<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  try {
    return await api<T>(method, path, body, signal);
  } catch (err) {
    const e = asApiError(err);
    if (isSessionLost(e)) onSessionLost?.(e);
    throw e;
  }
}

export interface PortalMatter {
  id: number;
  number: string;
  title: string;
  type: string;
  status: string;
  lawyer_name: string;
  opened_at: string | null;
  closed_at: string | null;
}
export interface Overview {
  client: { id: number; name: string };
  matters: PortalMatter[];
}

export interface Notice {
  id: number;
  event: string;
  title: string;
  body: string;
  link: string | null;
  matter_number: string | null;
  created_at: string;
  read_at: string | null;
}
export interface NoticePage {
  items: Notice[];
  unread: number;
}

export type ConfirmationStatus = 'pending' | 'confirmed' | 'commented' | 'superseded';
export interface Confirmation {
  id: number;
  matter: { id: number; number: string; title: string };
  kind: string;
  kind_label: string;
  title: string;
  content: string;
  content_sha256: string;
  requested_at: string;
  status: ConfirmationStatus;
  response_text: string | null;
  responded_at: string | null;
}

export type Dimension = 'functionality' | 'timeliness' | 'security' | 'economy' | 'comfort' | 'civility';
export type Scores = Record<Dimension, number>;
export interface EvaluationListItem {
  matter: { id: number; number: string; title: string; lawyer_name: string; closed_at: string | null };
  evaluated_at: string | null;
}
export interface EvaluationView {
  matter: { id: number; number: string; title: string; lawyer_name: string; closed_at: string | null; status: string };
  dimensions: { id: Dimension; label: string }[];
  can_evaluate: boolean;
  evaluation: (Scores & { comment: string | null; submitted_at: string }) | null;
}
