import { Transform } from 'node:stream';
import type { CommandContext } from './context.js';
import { formatBytes } from './units.js';

/** Counts the bytes passing through and reports them; draws nothing itself. */
export interface TransferCounter {
  readonly stream: Transform;
  readonly bytes: () => number;
  /** Removes the bar (if any); call once, whether the transfer worked or not. */
  readonly finish: () => void;
}

/**
 * A byte counter for an upload or download, with a cli-progress bar on stderr when it is a
 * terminal and the output is not JSON (a pipe or a log gets no escape sequences). cli-progress is
 * loaded only then, keeping it off every other command's start-up path.
 */
export async function transferCounter(context: CommandContext, label: string, totalBytes: number | undefined): Promise<TransferCounter> {
  let bytes = 0;
  let update: (value: number) => void = () => {};
  let stop: () => void = () => {};
  if (context.interactive) {
    const { SingleBar, Presets } = await import('cli-progress');
    const bar = new SingleBar(
      {
        stream: context.io.stderr,
        format: `${label} [{bar}] {percentage}% | {value} / {total} | {eta_formatted}`,
        formatValue: (value, options, type) => (type === 'value' || type === 'total' ? formatBytes(value) : String(value)),
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    // Without a Content-Length the total is unknown: the bar then only counts.
    bar.start(totalBytes ?? 0, 0);
    update = (value) => bar.update(value);
    stop = () => bar.stop();
  }
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      update(bytes);
      callback(null, chunk);
    },
  });
  return { stream, bytes: () => bytes, finish: stop };
}
