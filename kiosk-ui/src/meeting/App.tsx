import { useEffect, useRef, useState } from 'preact/hooks';
import { api, asApiError, type ApiError } from '../shared/api.js';
import type { AppProps } from '../shared/boot.js';
import { LangToggle, useT } from '../shared/i18n.js';
import { useTopic } from '../shared/live.js';
import { useSnapshot } from '../shared/snapshot.js';
import { Clock, ConnectionDot, ErrorText, hhmm, Spinner, StaleBanner } from '../shared/ui.js';
import { normalizeCurrent, normalizeTally, type Current, type Meeting, type MeetingDocument, type Participant, type RoomDevice, type Seat, type Vote } from './model.js';
import { S } from './strings.js';
import { Viewer, type Stroke } from './Viewer.js';
import './meeting.css';

type Translate = ReturnType<typeof useT<keyof typeof S.zh>>;

interface VoteUi {
  id: number;
  phase: 'open' | 'voted' | 'result';
  cast: number | null;
  tally: Record<string, number> | null;
  passed: boolean | null;
}

/** Annotations are saved this long after the last stroke, so a burst of strokes is one request. */
const ANNOTATION_SAVE_MS = 1500;

export function MeetingApp({ kiosk }: AppProps) {
  const t = useT(S);
  const snap = useSnapshot<Current>(async (signal) => normalizeCurrent(await api('GET', '/api/kiosk/meeting/current', undefined, signal)), String(kiosk.id));
  const current = snap.data;
  const meeting = current?.meeting ?? null;
  const seat = current?.seat ?? null;
  const patchMeeting = (update: (m: Meeting) => Meeting) => snap.setData((c) => (c && c.meeting ? { ...c, meeting: update(c.meeting) } : c));

  const [open, setOpen] = useState<{ documentId: number; page: number } | null>(null);
  const [pageCounts, setPageCounts] = useState<Record<number, number>>({});
  const [follow, setFollow] = useState(true);
  const [withdrawn, setWithdrawn] = useState<Set<number>>(() => new Set());
  const [vote, setVote] = useState<VoteUi | null>(null);
  const dismissedVotes = useRef(new Set<number>());
  const [toast, setToast] = useState<ApiError | string | null>(null);

  const isPresenter = !!seat && !!meeting && seat.user_id === meeting.presenterUserId;
  const presenter = meeting?.presenter ?? null;
  const following = !!seat && !isPresenter && follow;

  // A new session in the room (or the end of one) starts the screen afresh.
  useEffect(() => {
    setOpen(null);
    setVote(null);
    setFollow(true);
    setWithdrawn(new Set());
    dismissedVotes.current.clear();
  }, [meeting?.id]);

  // Followers go wherever the presenter goes (and back there when they turn following on again).
  useEffect(() => {
    if (following && presenter) setOpen({ documentId: presenter.document_id, page: presenter.page });
  }, [following, presenter?.document_id, presenter?.page]);

  // A terminal that (re)loads during an open vote shows it; one that already voted says so.
  useEffect(() => {
    if (!meeting || vote) return;
    const openVote = meeting.votes.find((v) => v.status === 'open' && !dismissedVotes.current.has(v.id));
    if (openVote) setVote({ id: openVote.id, phase: openVote.voted ? 'voted' : 'open', cast: openVote.cast, tally: null, passed: null });
  }, [meeting, vote]);

  useEffect(() => {
    if (!toast) return;
    const timer = setTimeout(() => setToast(null), 5000);
    return () => clearTimeout(timer);
  }, [toast]);

  useTopic(current?.room.id ? `room:${current.room.id}` : null, (data) => {
    if (data.type !== 'device' || typeof data.device_id !== 'string') return;
    snap.setData((c) =>
      c ? { ...c, room: { ...c.room, devices: c.room.devices.map((d) => (d.id === data.device_id ? { ...d, availability: String(data.availability ?? d.availability), state: data.state ?? d.state } : d)) } } : c,
    );
  });

  useTopic(meeting ? `meeting:${meeting.id}` : null, (data) => {
    const voteId = typeof data.vote_id === 'number' ? data.vote_id : null;
    switch (data.type) {
      case 'page':
        if (typeof data.document_id === 'number' && typeof data.page === 'number') {
          const next = { document_id: data.document_id, page: data.page };
          patchMeeting((m) => ({ ...m, presenter: next }));
        }
        break;
      case 'sign_in':
        patchMeeting((m) => ({ ...m, participants: m.participants.map((p) => (p.user_id === data.user_id ? { ...p, signed_in: true } : p)) }));
        break;
      case 'vote.opened':
        if (voteId !== null) {
          dismissedVotes.current.delete(voteId);
          setVote({ id: voteId, phase: 'open', cast: 0, tally: null, passed: null });
        }
        snap.reload();
        break;
      case 'ballot':
        setVote((v) => (v && v.id === voteId && typeof data.cast === 'number' ? { ...v, cast: data.cast } : v));
        break;
      case 'vote.closed':
        if (voteId !== null) setVote({ id: voteId, phase: 'result', cast: null, tally: normalizeTally(data.tally), passed: typeof data.passed === 'boolean' ? data.passed : null });
        snap.reload();
        break;
      case 'document.withdrawn':
        if (typeof data.document_id === 'number') {
          const id = data.document_id;
          setWithdrawn((w) => new Set(w).add(id));
        }
        break;
      case 'document.added':
      case 'seat.released':
      case 'presenter':
      case 'meeting.started':
      case 'meeting.ended':
        snap.reload();
        break;
    }
  }, snap.reload);

  const signIn = async (p: Participant) => {
    if (!meeting) return;
    try {
      const { seat: next } = await api<{ seat: Seat }>('POST', '/api/kiosk/meeting/sign-in', { meeting_id: meeting.id, user_id: p.user_id });
      snap.setData((c) =>
        c ? { ...c, seat: next, meeting: c.meeting && { ...c.meeting, participants: c.meeting.participants.map((x) => (x.user_id === p.user_id ? { ...x, signed_in: true } : x)) } } : c,
      );
    } catch (err) {
      setToast(asApiError(err));
    }
  };

  const announcePage = async (documentId: number, page: number) => {
    if (!meeting) return;
    try {
      await api('POST', '/api/kiosk/meeting/page', { meeting_id: meeting.id, document_id: documentId, page });
      patchMeeting((m) => ({ ...m, presenter: { document_id: documentId, page } }));
    } catch (err) {
      setToast(asApiError(err));
    }
  };

  const openDocument = (doc: MeetingDocument) => {
    const page = presenter?.document_id === doc.id ? presenter.page : 1;
    if (isPresenter) void announcePage(doc.id, page);
    else if (following && presenter?.document_id !== doc.id) setFollow(false);
    setOpen({ documentId: doc.id, page });
  };

  const turn = (direction: 1 | -1) => {
    if (!open) return;
    const total = pageCounts[open.documentId] ?? meeting?.documents.find((d) => d.id === open.documentId)?.pages ?? Infinity;
    const page = Math.min(Math.max(1, open.page + direction), total);
    if (page === open.page) return;
    setOpen({ ...open, page });
    if (isPresenter) void announcePage(open.documentId, page);
    // A reader who turns pages by themselves is browsing: following stops until they turn it on again.
    else if (follow) setFollow(false);
  };

  const closeDocument = () => {
    setOpen(null);
    if (!isPresenter) setFollow(false);
  };

  const openDoc = open && meeting ? (meeting.documents.find((d) => d.id === open.documentId) ?? null) : null;

  return (
    <div class="meeting">
      <StaleBanner />
      <header class="meeting-header">
        <div class="mh-left">
          <span class="mh-room" data-testid="meeting-room-name">
            {current?.room.name ?? '—'}
          </span>
          {meeting && <span class="mh-title">{meeting.title}</span>}
        </div>
        <div class="mh-right">
          {seat && (
            <span class="seat">
              <span class="seat-label">{t('you')}</span>
              <span data-testid="seat-name">{seat.display_name}</span>
            </span>
          )}
          <ConnectionDot />
          <Clock date />
          <LangToggle />
        </div>
      </header>

      {!current && (
        <main class="meeting-center">
          {snap.error && !snap.error.transient ? (
            <div class="empty">
              <h2>{t('loadFailed')}</h2>
              <ErrorText error={snap.error} />
            </div>
          ) : (
            <Spinner />
          )}
        </main>
      )}

      {current && open && meeting && (
        <DocumentScreen
          t={t}
          meeting={meeting}
          seat={seat}
          doc={openDoc}
          documentId={open.documentId}
          page={open.page}
          total={pageCounts[open.documentId] ?? openDoc?.pages ?? null}
          withdrawn={withdrawn.has(open.documentId) || !!openDoc?.withdrawn}
          isPresenter={isPresenter}
          follow={follow}
          presenterPage={presenter && presenter.document_id === open.documentId ? presenter.page : null}
          onFollow={(on) => {
            setFollow(on);
            if (on && presenter) setOpen({ documentId: presenter.document_id, page: presenter.page });
          }}
          onTurn={turn}
          onClose={closeDocument}
          onPageCount={(n) => setPageCounts((c) => ({ ...c, [open.documentId]: n }))}
          onWithdrawn={() => setWithdrawn((w) => new Set(w).add(open.documentId))}
          onError={setToast}
        />
      )}

      {current && !open && (
        <main class="meeting-main">
          {meeting ? (
            <>
              <MeetingCard t={t} meeting={meeting} />
              <ParticipantsCard t={t} meeting={meeting} seat={seat} onSignIn={signIn} />
              <div class="col">
                {seat && <DocumentsCard t={t} meeting={meeting} withdrawn={withdrawn} presenterDoc={presenter?.document_id ?? null} onOpen={openDocument} />}
                <DevicesCard t={t} devices={current.room.devices} />
              </div>
            </>
          ) : (
            <>
              <div class="card empty-card">
                <div class="empty-icon" aria-hidden="true">◷</div>
                <h2>{t('noMeeting')}</h2>
                <p class="muted">{t('noMeetingBody')}</p>
                <div class="big-clock">
                  <Clock />
                </div>
              </div>
              <DevicesCard t={t} devices={current.room.devices} />
            </>
          )}
        </main>
      )}

      {meeting && vote && (
        <VoteDialog
          t={t}
          ui={vote}
          vote={meeting.votes.find((v) => v.id === vote.id) ?? null}
          seat={seat}
          onVoted={() => setVote((v) => (v ? { ...v, phase: 'voted' } : v))}
          onDismiss={() => {
            dismissedVotes.current.add(vote.id);
            setVote(null);
          }}
        />
      )}
      {toast && (
        <div class="toast" role="alert" onClick={() => setToast(null)}>
          <ErrorText error={toast} />
        </div>
      )}
    </div>
  );
}

const timeRange = (m: Meeting) => [m.starts_at, m.ends_at].map((s) => (s ? hhmm(new Date(s)) : '')).filter(Boolean).join(' – ');

function statusLabel(t: Translate, status: Meeting['status']): string {
  return t(`status_${status}`);
}

function MeetingCard({ t, meeting }: { t: Translate; meeting: Meeting }) {
  return (
    <section class="card meeting-card">
      <div class="tags">
        <span class={`pill ${meeting.status === 'in_progress' ? 'pill-ok' : 'pill-accent'}`}>{statusLabel(t, meeting.status)}</span>
        {meeting.confidential && <span class="pill pill-danger">{t('confidential')}</span>}
      </div>
      <h1 data-testid="meeting-title">{meeting.title}</h1>
      <p class="meeting-time">{timeRange(meeting)}</p>
      <h3 class="section-title">{t('agenda')}</h3>
      {meeting.agenda.length ? (
        <ol class="agenda">
          {meeting.agenda.map((item, i) => (
            <li key={i}>
              <span class="agenda-no">{i + 1}</span>
              <span>{item}</span>
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted">{t('noAgenda')}</p>
      )}
    </section>
  );
}

function ParticipantsCard({ t, meeting, seat, onSignIn }: { t: Translate; meeting: Meeting; seat: Seat | null; onSignIn: (p: Participant) => Promise<void> }) {
  const [busy, setBusy] = useState<number | null>(null);
  const signedIn = meeting.participants.filter((p) => p.signed_in).length;
  const canSignIn = !seat && meeting.status !== 'ended';
  return (
    <section class="card participants-card">
      <div class="card-head">
        <h3 class="section-title">{t('participants')}</h3>
        <span class="pill pill-accent">{t('signedInCount', { n: signedIn, total: meeting.participants.length })}</span>
      </div>
      {canSignIn && <p class="sign-in-prompt">{t('signInPrompt')}</p>}
      <div class="participants">
        {meeting.participants.map((p) => {
          const mine = seat?.user_id === p.user_id;
          return (
            <button
              type="button"
              key={p.user_id}
              class={`participant ${p.signed_in ? 'is-in' : ''} ${mine ? 'is-mine' : ''} ${canSignIn ? 'can-sign' : ''}`}
              data-testid="participant-option"
              data-user-id={p.user_id}
              aria-pressed={mine}
              disabled={!canSignIn || busy !== null}
              onClick={async () => {
                setBusy(p.user_id);
                await onSignIn(p);
                setBusy(null);
              }}
            >
              <span class="p-avatar" aria-hidden="true">
                {p.display_name.slice(0, 1)}
              </span>
              <span class="p-text">
                <span class="p-name">{p.display_name}</span>
                <span class="p-role">{roleLabel(t, p.role)}</span>
              </span>
              <span class={`p-tick ${p.signed_in ? 'on' : ''}`} aria-label={p.signed_in ? t('signedIn') : t('notSignedIn')}>
                {busy === p.user_id ? '…' : p.signed_in ? '✓' : ''}
              </span>
            </button>
          );
        })}
      </div>
    </section>
  );
}

function roleLabel(t: Translate, role: string): string {
  return role === 'chair' || role === 'secretary' || role === 'member' || role === 'observer' ? t(`role_${role}`) : role;
}

function DocumentsCard({ t, meeting, withdrawn, presenterDoc, onOpen }: { t: Translate; meeting: Meeting; withdrawn: Set<number>; presenterDoc: number | null; onOpen: (d: MeetingDocument) => void }) {
  return (
    <section class="card">
      <h3 class="section-title">{t('documents')}</h3>
      {meeting.documents.length === 0 && <p class="muted">{t('noDocuments')}</p>}
      <div class="documents">
        {meeting.documents.map((d) => {
          const gone = d.withdrawn || withdrawn.has(d.id);
          return (
            <button type="button" key={d.id} class={`document ${gone ? 'is-gone' : ''}`} data-testid="doc-open" data-document-id={d.id} onClick={() => onOpen(d)}>
              <span class="doc-icon" aria-hidden="true">
                PDF
              </span>
              <span class="doc-text">
                <span class="doc-name">{d.name}</span>
                <span class="doc-meta">
                  {d.pages ? t('pages', { n: d.pages }) : ''}
                  {d.confidential && <span class="pill pill-danger">{t('confidential')}</span>}
                  {gone && <span class="pill">{t('withdrawnTag')}</span>}
                  {presenterDoc === d.id && !gone && <span class="pill pill-ok">▶</span>}
                </span>
              </span>
            </button>
          );
        })}
      </div>
    </section>
  );
}

function deviceState(t: Translate, state: unknown): string {
  if (state === null || state === undefined) return '';
  if (typeof state !== 'object') return String(state);
  const s = state as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof s.power === 'string' || typeof s.power === 'boolean') parts.push(s.power === true || s.power === 'on' ? t('powerOn') : t('powerOff'));
  for (const key of ['text', 'name', 'line1', 'input', 'source']) if (typeof s[key] === 'string' && s[key]) parts.push(String(s[key]));
  return parts.join(' · ');
}

function DevicesCard({ t, devices }: { t: Translate; devices: RoomDevice[] }) {
  return (
    <section class="card">
      <h3 class="section-title">{t('roomDevices')}</h3>
      {devices.length === 0 && <p class="muted">{t('noDevices')}</p>}
      <ul class="devices">
        {devices.map((d) => {
          const online = d.availability === 'online';
          return (
            <li key={d.id} class="device" data-testid="room-device" data-device-id={d.id} data-availability={d.availability}>
              <span class={`dev-dot ${online ? 'on' : d.availability === 'offline' ? 'off' : ''}`} aria-hidden="true" />
              <span class="dev-name">{d.name}</span>
              <span class="dev-state">{deviceState(t, d.state)}</span>
              <span class={`pill ${online ? 'pill-ok' : d.availability === 'offline' ? 'pill-danger' : ''}`}>{online ? t('online') : d.availability === 'offline' ? t('offline') : t('unknown')}</span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

interface DocumentScreenProps {
  t: Translate;
  meeting: Meeting;
  seat: Seat | null;
  doc: MeetingDocument | null;
  documentId: number;
  page: number;
  total: number | null;
  withdrawn: boolean;
  isPresenter: boolean;
  follow: boolean;
  presenterPage: number | null;
  onFollow: (on: boolean) => void;
  onTurn: (direction: 1 | -1) => void;
  onClose: () => void;
  onPageCount: (n: number) => void;
  onWithdrawn: () => void;
  onError: (e: ApiError | string) => void;
}

function DocumentScreen(props: DocumentScreenProps) {
  const { t, meeting, seat, doc, documentId, page, total, withdrawn, isPresenter, follow } = props;
  const [pen, setPen] = useState(false);
  const annotations = useAnnotations(documentId, props.onError);
  const confidential = doc?.confidential ?? meeting.confidential;
  const watermark = confidential ? (seat?.display_name ?? meeting.title) : null;
  return (
    <main class="doc-screen">
      <div class="doc-toolbar">
        <button type="button" class="btn btn-secondary" data-testid="doc-close" onClick={props.onClose}>
          ‹ {t('backToMeeting')}
        </button>
        <div class="doc-title">
          <span class="doc-title-name">{doc?.name ?? ''}</span>
          {confidential && <span class="pill pill-danger">{t('confidential')}</span>}
        </div>
        {!withdrawn && (
          <div class="doc-tools">
            <button type="button" class={`btn ${pen ? 'btn-primary' : 'btn-secondary'}`} data-testid="pen-toggle" aria-pressed={pen} onClick={() => setPen(!pen)}>
              ✎ {pen ? t('penOn') : t('pen')}
            </button>
            {pen && (
              <button type="button" class="btn btn-secondary" onClick={() => annotations.set(page, [])}>
                {t('clearPage')}
              </button>
            )}
            {isPresenter ? (
              <span class="pill pill-ok presenting">● {t('presenting')}</span>
            ) : (
              <button type="button" class={`btn follow ${follow ? 'btn-primary' : 'btn-secondary'}`} data-testid="follow-toggle" aria-pressed={follow} onClick={() => props.onFollow(!follow)}>
                <span class={`switch ${follow ? 'on' : ''}`} aria-hidden="true" />
                {t('follow')}
              </button>
            )}
          </div>
        )}
      </div>
      {withdrawn ? (
        <div class="withdrawn" data-testid="doc-withdrawn">
          <div class="empty-icon" aria-hidden="true">⊘</div>
          <h2>{t('withdrawn')}</h2>
          <p class="muted">{t('withdrawnBody')}</p>
          <button type="button" class="btn btn-secondary btn-lg" onClick={props.onClose}>
            {t('backToMeeting')}
          </button>
        </div>
      ) : (
        <>
          <Viewer
            documentId={documentId}
            page={page}
            onSwipe={props.onTurn}
            onPageCount={props.onPageCount}
            onWithdrawn={props.onWithdrawn}
            watermark={watermark}
            pen={pen}
            strokes={annotations.get(page)}
            onStrokes={(s) => annotations.set(page, s)}
          />
          <div class="pager">
            <button type="button" class="btn btn-secondary btn-lg pager-btn" data-testid="page-prev" disabled={page <= 1} onClick={() => props.onTurn(-1)}>
              ‹ {t('prev')}
            </button>
            <div class="pager-info">
              <span class="pager-page">{t('pageOf', { page, total: total ?? '…' })}</span>
              {!isPresenter && !follow && props.presenterPage !== null && <span class="muted">{t('presenterAt', { page: props.presenterPage })}</span>}
            </div>
            <button type="button" class="btn btn-primary btn-lg pager-btn" data-testid="page-next" disabled={total !== null && page >= total} onClick={() => props.onTurn(1)}>
              {t('next')} ›
            </button>
          </div>
        </>
      )}
    </main>
  );
}

/** The seat's private pen strokes of one document, per page; saved a moment after each change. */
function useAnnotations(documentId: number, onError: (e: ApiError | string) => void) {
  const [pages, setPages] = useState<Record<number, Stroke[]>>({});
  /** Saves waiting for their timer, by page, with what they will send. */
  const pendingSaves = useRef(new Map<number, { timer: ReturnType<typeof setTimeout>; body: { document_id: number; page: number; strokes: Stroke[] } }>());
  useEffect(() => {
    setPages({});
    // The seat's earlier strokes on this document (a reopened document, a reloaded terminal).
    const abort = new AbortController();
    api<{ page: number; strokes: Stroke[] }[]>('GET', `/api/kiosk/meeting/annotations?document_id=${documentId}`, undefined, abort.signal).then(
      (saved) => setPages((current) => ({ ...Object.fromEntries(saved.map((a) => [a.page, a.strokes])), ...current })),
      // Not loaded (offline, aborted): the seat draws on a clean page, and what it draws is still saved.
      () => undefined,
    );
    const pending = pendingSaves.current;
    return () => {
      abort.abort();
      // Strokes of the last moments before the document closes are sent now, not dropped. keepalive
      // lets the request outlive the page (the shared api helper has no such option).
      for (const { timer, body } of pending.values()) {
        clearTimeout(timer);
        void fetch('/api/kiosk/meeting/annotations', {
          method: 'PUT',
          credentials: 'same-origin',
          keepalive: true,
          headers: { accept: 'application/json', 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).catch(() => undefined);
      }
      pending.clear();
    };
  }, [documentId]);
  const save = (page: number, strokes: Stroke[], attempt = 0) => {
    const existing = pendingSaves.current.get(page);
    if (existing) clearTimeout(existing.timer);
    const delay = attempt ? Math.min(2000 * 2 ** attempt, 30_000) : ANNOTATION_SAVE_MS;
    const body = { document_id: documentId, page, strokes };
    pendingSaves.current.set(page, {
      body,
      timer: setTimeout(async () => {
        pendingSaves.current.delete(page);
        try {
          await api('PUT', '/api/kiosk/meeting/annotations', body);
        } catch (err) {
          const e = asApiError(err);
          if (e.transient) save(page, strokes, attempt + 1);
          else onError(e);
        }
      }, delay),
    });
  };
  return {
    get: (page: number) => pages[page] ?? EMPTY,
    set: (page: number, strokes: Stroke[]) => {
      setPages((p) => ({ ...p, [page]: strokes }));
      save(page, strokes);
    },
  };
}
const EMPTY: Stroke[] = [];

function VoteDialog({ t, ui, vote, seat, onVoted, onDismiss }: { t: Translate; ui: VoteUi; vote: Vote | null; seat: Seat | null; onVoted: () => void; onDismiss: () => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const tally = ui.tally ?? vote?.tally ?? null;
  const passed = ui.passed ?? vote?.passed ?? null;
  const options = vote?.options ?? Object.keys(tally ?? {});

  useEffect(() => {
    if (ui.phase !== 'result') return;
    const timer = setTimeout(onDismiss, 30_000);
    return () => clearTimeout(timer);
  }, [ui.phase]);

  const cast = async (choice: string) => {
    setBusy(choice);
    setError(null);
    try {
      await api('POST', '/api/kiosk/meeting/ballots', { vote_id: ui.id, choice });
      onVoted();
    } catch (err) {
      const e = asApiError(err);
      // Already voted (from this seat, before a reload): that is the state to show, not an error.
      if (e.status === 409 && /ALREADY/.test(e.code)) onVoted();
      else setError(e);
    } finally {
      setBusy(null);
    }
  };

  const total = tally ? Object.values(tally).reduce((a, b) => a + b, 0) : 0;
  return (
    <div class="modal-backdrop">
      <div class="modal vote-modal" role="dialog" aria-modal="true" data-testid="vote-dialog" data-vote-id={ui.id}>
        <div class="vote-head">
          <span class="pill pill-accent">{ui.phase === 'result' ? t('result') : t('voteTitle')}</span>
          {vote && <span class="pill">{vote.anonymous ? t('voteAnonymous') : t('voteNamed')}</span>}
          {ui.cast !== null && ui.phase !== 'result' && <span class="pill">{t('cast', { n: ui.cast })}</span>}
        </div>
        <h2 class="vote-title">{vote?.title ?? '…'}</h2>
        {ui.phase === 'open' &&
          (vote ? (
            <>
              <p class="muted">{seat ? t('voteHint') : t('mustSignIn')}</p>
              <div class="vote-choices">
                {options.map((o, i) => (
                  <button type="button" key={o} class={`vote-choice vc-${i}`} data-testid="vote-choice" data-choice={o} disabled={!seat || busy !== null} onClick={() => cast(o)}>
                    {busy === o ? '…' : o}
                  </button>
                ))}
              </div>
              <ErrorText error={error} />
            </>
          ) : (
            <Spinner />
          ))}
        {ui.phase === 'voted' && (
          <div class="vote-done" data-testid="vote-cast-done">
            <div class="result-tick" aria-hidden="true">
              ✓
            </div>
            <h2>{t('voted')}</h2>
            <p class="muted">{t('votedBody')}</p>
          </div>
        )}
        {ui.phase === 'result' && (
          <div class="vote-result" data-testid="vote-result" data-passed={passed === null ? undefined : String(passed)}>
            {passed !== null && <div class={`verdict ${passed ? 'ok' : 'no'}`}>{passed ? t('passed') : t('notPassed')}</div>}
            {tally && (
              <ul class="tally">
                {options.map((o) => (
                  <li key={o}>
                    <span class="tally-label">{o}</span>
                    <span class="tally-bar">
                      <span style={{ width: `${total ? ((tally[o] ?? 0) / total) * 100 : 0}%` }} />
                    </span>
                    <span class="tally-count">{tally[o] ?? 0}</span>
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        {(ui.phase !== 'open' || !seat) && (
          <button type="button" class="btn btn-secondary btn-lg" onClick={onDismiss}>
            {t('ok')}
          </button>
        )}
      </div>
    </div>
  );
}
