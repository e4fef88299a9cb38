/** The machine a figure was measured on (figures mean nothing without it). */
import os from 'node:os';

/** `{ cpu, cores, node, platform, memory }` */
export function describeMachine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    loadavg: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}
