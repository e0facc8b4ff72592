// The wall screens of bench:wall, in their own process so that 200 sockets' parsing is not counted
// against the server's event loop. Reports each statistics message's arrival to the parent.
import WebSocket from 'ws';

const { WALL_URL, WALL_TOKEN, WALL_CLIENTS } = process.env;
const now = () => performance.timeOrigin + performance.now();
const sockets = [];

await Promise.all(
  Array.from({ length: Number(WALL_CLIENTS) }, (_, i) =>
    new Promise((resolve, reject) => {
      const socket = new WebSocket(WALL_URL, { headers: { authorization: `Bearer ${WALL_TOKEN}` } });
      sockets.push(socket);
      socket.on('error', reject);
      socket.on('open', () => socket.send(JSON.stringify({ type: 'subscribe', topics: ['stats:wall'] })));
      socket.on('message', (raw) => {
        const at = now();
        const m = JSON.parse(raw.toString());
        if (m.type === 'subscribed') return resolve();
        if (m.type !== 'event') return;
        process.send({ client: i, at, online: m.data.stats?.devices.online ?? null, marker: m.data.marker ?? null });
      });
    }),
  ),
);
process.send({ ready: true });
process.on('message', (m) => {
  if (m === 'stop') {
    for (const s of sockets) s.close();
    process.exit(0);
  }
});
