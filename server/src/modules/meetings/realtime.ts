import type { FastifyInstance } from 'fastify';
import type { Db } from '../../db/index.js';
import { can } from '../auth/roles.js';
import { registerTopic } from '../realtime/hub.js';

/**
 * Who may listen to a meeting. Topic rules run synchronously at subscribe time, so they cannot ask the
 * database; they read this map of meeting → room and participants instead. A meeting's room and
 * participants never change after it is created, so an entry never goes stale. It is filled from every
 * meeting this process presents (a client learns a meeting's id from the API before subscribing), from
 * the meetings still current when the process starts, and from the `meeting.created` events of every
 * process (so a socket held by another process than the one that created the meeting is served too).
 */
const known = new Map<number, { roomId: string; userIds: ReadonlySet<number> }>();

export function rememberMeeting(id: number, roomId: string, userIds: Iterable<number>): void {
  known.set(id, { roomId, userIds: new Set(userIds) });
}

async function learnMeetings(db: Db, ids: number[] | 'current', since: Date): Promise<void> {
  let query = db.selectFrom('meeting_sessions').select(['id', 'room_id']);
  query = ids === 'current' ? query.where((eb) => eb.or([eb('ended_at', 'is', null), eb('ended_at', '>', since)])) : query.where('id', 'in', ids);
  const sessions = await query.execute();
  if (sessions.length === 0) return;
  const participants = await db.selectFrom('meeting_participants').select(['meeting_id', 'user_id']).where('meeting_id', 'in', sessions.map((s) => s.id)).execute();
  for (const s of sessions) rememberMeeting(s.id, s.room_id, participants.filter((p) => p.meeting_id === s.id).map((p) => p.user_id));
}

/** `meeting:<id>` and `room:<roomId>`: who may subscribe. */
function registerTopics(): void {
  registerTopic('meeting', (who, q) => {
    const id = Number(q);
    if (!Number.isSafeInteger(id)) return false;
    const meeting = known.get(id);
    if (who.user) return can(who.user.role, 'meetings.manage') || !!meeting?.userIds.has(who.user.id);
    return who.kiosk.kind === 'meeting' && who.kiosk.roomId !== null && meeting?.roomId === who.kiosk.roomId;
  });
  registerTopic('room', (who, q) => {
    if (who.user) return can(who.user.role, 'meetings.manage');
    return who.kiosk.kind === 'meeting' && who.kiosk.roomId !== null && who.kiosk.roomId === q;
  });
}

/** Meetings ended this long ago still get their sockets back after a restart (late minutes, votes read back). */
const RECENT_MS = 24 * 3_600_000;

/**
 * Starts the module's realtime side: topic rules, the access map, and `room:<roomId>` device events.
 *
 * A device's new state or availability is announced by the device bridge on `devices`; the rooms
 * holding that device hear it as `{type:'device', device_id, availability, state}`. Each process
 * delivers to its own room sockets, reading the device row only when one of them listens.
 */
export function startMeetingRealtime(app: FastifyInstance): void {
  const { db, clock } = app.services;
  registerTopics();
  app.addHook('onReady', async () => {
    await learnMeetings(db, 'current', new Date(clock.now().getTime() - RECENT_MS));
  });
  const deliverDevice = async (deviceId: string) => {
    // Device reports come often; with no room screen connected to this process there is nothing to read.
    if (!app.realtime.hasSubscribers('room:', { prefix: true })) return;
    const rooms = (await db.selectFrom('meeting_rooms').select(['id', 'devices']).execute()).filter((r) => r.devices.includes(deviceId) && app.realtime.hasSubscribers(`room:${r.id}`));
    if (rooms.length === 0) return;
    const d = await db.selectFrom('devices').select(['id', 'availability', 'state']).where('id', '=', deviceId).executeTakeFirst();
    if (!d) return;
    for (const room of rooms) app.realtime.deliver(`room:${room.id}`, { type: 'device', device_id: d.id, availability: d.availability, state: d.state });
  };
  app.realtime.onEvent((event) => {
    if (event.topic === 'devices' && (event.data.type === 'device.state' || event.data.type === 'device.availability')) {
      void deliverDevice(String(event.data.device)).catch((err: Error) => app.log.warn({ err: err.message }, 'room device state not delivered'));
      return;
    }
    if (!event.topic.startsWith('meeting:') || event.data.type !== 'meeting.created') return;
    const id = Number(event.topic.slice('meeting:'.length));
    if (!known.has(id)) void learnMeetings(db, [id], clock.now()).catch((err: Error) => app.log.warn({ err: err.message, meeting: id }, 'meeting access not learnt'));
  });
}
