import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ProcessIdentity } from "../storage/process-identity.ts";
import type { GitLabTlsFiles } from "./gitlab-tls.ts";
import type { JobUpdate } from "./runner-api.ts";

/** What a restarted pier needs to tell GitLab about a job its predecessor lost. */
export interface JournalEntry {
  jobId: number;
  jobToken: string;
  /** GitLab's URL as in config.toml. */
  url: string;
  /** The entry's `tls-ca-file`, `tls-cert-file`, `tls-key-file`: a private-CA GitLab needs them. */
  tls?: GitLabTlsFiles;
  /** The runner token's short form (logs, paths); never the token itself. */
  runner: string;
  systemId: string;
  /** The pier process running the job. */
  owner: ProcessIdentity;
  /** `pier.owner` of the job's Docker objects, when its executor makes any. */
  dockerOwner?: string;
  /** The job's log as written, byte for byte what GitLab was sent. */
  logFile: string;
  outputLimitBytes: number;
  /** `features.failure_reasons` from the job payload: what this GitLab accepts. */
  failureReasons?: string[];
  startedAt: string;
  /** The final state, once known but not yet accepted by GitLab. */
  final?: JobUpdate;
}

/** An entry on disk: `file` is where it lies now (claimed entries are renamed). */
export interface StoredEntry {
  file: string;
  entry: JournalEntry;
  /** Set when a restarted pier has claimed the entry to recover it. */
  claimedBy?: ProcessIdentity;
}

const CLAIM = ".recovering-";

/**
 * The crash journal: one small JSON file per job a runner process has taken from GitLab,
 * written before the job starts and removed once GitLab has its final state. Files are
 * replaced by rename, so a reader (or a crash) never sees half an entry. The entries hold job
 * tokens: the folder is the owner's only.
 */
export class JobJournal {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = join(stateDir, "runner", "journal");
  }

  static fileName(entry: Pick<JournalEntry, "runner" | "jobId">): string {
    return `${entry.runner}-${String(entry.jobId)}.json`;
  }

  record(entry: JournalEntry): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const target = join(this.dir, JobJournal.fileName(entry));
    const draft = join(this.dir, `.${randomBytes(6).toString("hex")}.draft`);
    writeFileSync(draft, JSON.stringify(entry), { mode: 0o600, flag: "wx" });
    renameSync(draft, target);
  }

  remove(entry: Pick<JournalEntry, "runner" | "jobId">): void {
    rmSync(join(this.dir, JobJournal.fileName(entry)), { force: true });
  }

  /** Every readable entry, claimed or not; drafts and unreadable files are skipped. */
  list(): StoredEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const found: StoredEntry[] = [];
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const file = join(this.dir, name);
      const claim = name.indexOf(CLAIM);
      const claimedBy = claim < 0 ? undefined : claimantOf(name.slice(claim + CLAIM.length));
      if (claim < 0 && !name.endsWith(".json")) continue;
      const entry = readEntry(file);
      if (entry === undefined) continue;
      found.push(claimedBy === undefined ? { file, entry } : { file, entry, claimedBy });
    }
    return found;
  }

  /**
   * Takes an entry for recovery by renaming it to a name that says who recovers it; false
   * when another process took it first.
   */
  claim(stored: StoredEntry, by: ProcessIdentity): StoredEntry | undefined {
    const base = JobJournal.fileName(stored.entry);
    const file = join(this.dir, `${base}${CLAIM}${String(by.pid)}-${by.start}`);
    try {
      renameSync(stored.file, file);
    } catch {
      return undefined;
    }
    return { file, entry: stored.entry, claimedBy: by };
  }

  drop(stored: StoredEntry): void {
    rmSync(stored.file, { force: true });
  }
}

function claimantOf(text: string): ProcessIdentity | undefined {
  const match = /^(\d+)-(\d*)$/.exec(text);
  return match?.[1] === undefined ? undefined : { pid: Number(match[1]), start: match[2] ?? "" };
}

function readEntry(file: string): JournalEntry | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as Partial<JournalEntry>;
    if (
      typeof value.jobId !== "number" ||
      typeof value.jobToken !== "string" ||
      typeof value.url !== "string" ||
      typeof value.owner?.pid !== "number"
    ) {
      return undefined;
    }
    return value as JournalEntry;
  } catch {
    return undefined;
  }
}
