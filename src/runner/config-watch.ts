import { watch, type FSWatcher } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";

export interface ConfigWatchOptions {
  file: string;
  /** Called once per change (events close together are merged). */
  onChange: () => void;
  /** Fallback polling of the file's mtime and size (gitlab-runner checks every 3 s). */
  pollMs?: number;
  /** Events closer together than this are one change. */
  settleMs?: number;
}

export interface ConfigWatch {
  close(): void;
}

/**
 * Watches config.toml for changes: the folder is watched (an editor or pier itself replaces
 * the file by rename, which a watch on the file would lose), and its mtime is polled as well
 * for file systems where events never come.
 */
export function watchConfigFile(o: ConfigWatchOptions): ConfigWatch {
  let last: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const name = basename(o.file);

  const signature = async (): Promise<string> => {
    try {
      const info = await stat(o.file);
      return `${String(info.mtimeMs)}:${String(info.size)}:${String(info.ino)}`;
    } catch {
      return "missing";
    }
  };
  const check = async (): Promise<void> => {
    const now = await signature();
    if (closed || now === last) return;
    last = now;
    o.onChange();
  };
  const soon = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void check();
    }, o.settleMs ?? 100);
    timer.unref();
  };

  void signature().then((initial) => {
    last ??= initial;
  });
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(o.file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name) soon();
    });
    watcher.on("error", () => undefined);
  } catch {
    // No events here: polling alone.
  }
  const poll = setInterval(() => void check(), o.pollMs ?? 3000);
  poll.unref();
  return {
    close() {
      closed = true;
      watcher?.close();
      clearInterval(poll);
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
