import { spawn } from 'node:child_process';

/**
 * sd_notify without a native module: Node cannot send on a Unix datagram socket, so the messages go
 * through `systemd-notify`, which needs `NotifyAccess=all` in the unit (systemd/lawbox-agent.service).
 * READY=1 once the agent runs; WATCHDOG=1 every third of `WATCHDOG_USEC`, from the event loop itself, so a
 * wedged loop stops the pings and systemd restarts the agent. A third, not a half: systemd 252 may drop a
 * message whose short-lived sender exited before it was attributed, and one lost ping must not trip it.
 * Outside systemd this does nothing.
 */
export function startSystemdNotify(env: NodeJS.ProcessEnv, log: { warn(obj: object, msg: string): void }): { ready(): void; stopping(): void; stop(): void } {
  if (!env.NOTIFY_SOCKET) return { ready() {}, stopping() {}, stop() {} };
  const send = (...messages: string[]) => {
    const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...messages], { stdio: 'ignore' });
    child.on('error', (err) => log.warn({ err: err.message }, 'systemd-notify failed'));
  };
  const usec = Number(env.WATCHDOG_USEC);
  const pid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
  const timer = Number.isFinite(usec) && usec > 0 && pid === process.pid ? setInterval(() => send('WATCHDOG=1'), Math.max(500, usec / 3000)) : null;
  timer?.unref();
  return {
    ready: () => send('--ready', 'STATUS=running'),
    stopping: () => send('STOPPING=1'),
    stop: () => {
      if (timer) clearInterval(timer);
    },
  };
}
