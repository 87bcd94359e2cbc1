/** A commit object's fields as `git log --format` prints them (UTF-8 output). */
export interface ParsedCommit {
  tree: string;
  /** `%P`, as a list. */
  parents: string[];
  /** `%an`. */
  authorName: string;
  /** `%ae`. */
  authorEmail: string;
  /** `%cI`: strict ISO 8601 in the committer's own offset. */
  committerDate: string;
  /** `%B`: the raw message after the header's blank line, as stored. */
  message: string;
}

/** The `encoding` header values that need no conversion to UTF-8 (git's is_encoding_utf8). */
const utf8Names = /^utf-?8$/i;
/**
 * ISO-8859-1 under names iconv knows; git converts such messages to UTF-8. Other encodings
 * are left to git: iconv and the WHATWG decoders that Node has differ on some bytes.
 */
const latin1Names = /^(iso[-_]?8859-1|latin1|l1)$/i;

/** git's split_ident_line on a well-formed `Name <email> seconds ±hhmm`; anything else: undefined. */
const identLine = /^([^<]*)<([^>]*)> (\d+) ([+-]\d{4})$/;

/** The last second git prints with a four-digit year. */
const LAST_FOUR_DIGIT_YEAR_SECOND = 253_402_300_799;

function twoDigits(value: number): string {
  return String(value).padStart(2, "0");
}

/**
 * `%cI` as git prints it: the time in the offset's own zone and the offset as `±hh:mm` (git
 * reads the stored `±hhmm` as a decimal number, so `-0000` prints as `+00:00`).
 */
export function strictIsoDate(seconds: number, storedOffset: string): string | undefined {
  const offset = Number.parseInt(storedOffset, 10);
  const magnitude = Math.abs(offset);
  const minutes = Math.sign(offset) * (Math.floor(magnitude / 100) * 60 + (magnitude % 100));
  const local = seconds + minutes * 60;
  // Out of range: git clamps or dies there; let it.
  if (!Number.isSafeInteger(seconds) || local < 0 || local > LAST_FOUR_DIGIT_YEAR_SECOND) {
    return undefined;
  }
  const time = new Date(local * 1000);
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${String(time.getUTCFullYear()).padStart(4, "0")}-${twoDigits(time.getUTCMonth() + 1)}-` +
    `${twoDigits(time.getUTCDate())}T${twoDigits(time.getUTCHours())}:` +
    `${twoDigits(time.getUTCMinutes())}:${twoDigits(time.getUTCSeconds())}` +
    `${sign}${twoDigits(Math.floor(magnitude / 100))}:${twoDigits(magnitude % 100)}`
  );
}

/**
 * Parses a commit object the way `git log` reads it for `%P %an %ae %cI %B`: parents are the
 * `parent` lines right after `tree`; the last `author` and `committer` lines of the header
 * count (continuation lines of `gpgsig`, `mergetag` and other multi-line headers start with a
 * space and never match); the message is everything after the first empty line; an `encoding`
 * header converts the text to UTF-8 as git does. Undefined for what git would print
 * differently or refuse (NUL bytes, malformed lines, an encoding Node cannot match exactly).
 */
export function parseCommit(data: Buffer): ParsedCommit | undefined {
  if (data.includes(0)) return undefined;
  // One character per byte: the structure is ASCII; text is decoded at the end.
  const raw = data.toString("latin1");
  const blank = raw.indexOf("\n\n");
  if (blank < 0) return undefined;
  const lines = raw.slice(0, blank).split("\n");
  const tree = /^tree ([0-9a-fA-F]{40})$/.exec(lines[0] ?? "")?.[1];
  if (tree === undefined) return undefined;
  const parents: string[] = [];
  let line = 1;
  for (; line < lines.length && lines[line]?.startsWith("parent ") === true; line++) {
    const parent = /^parent ([0-9a-fA-F]{40})$/.exec(lines[line] ?? "")?.[1];
    if (parent === undefined) return undefined;
    parents.push(parent.toLowerCase());
  }
  let author: string | undefined;
  let committer: string | undefined;
  let encoding: string | undefined;
  for (const header of lines) {
    if (header.startsWith("author ")) author = header.slice(7);
    else if (header.startsWith("committer ")) committer = header.slice(10);
    else if (header.startsWith("encoding ")) encoding ??= header.slice(9);
  }
  const authorParts = identLine.exec(author ?? "");
  const committerParts = identLine.exec(committer ?? "");
  if (authorParts === null || committerParts === null) return undefined;
  const committerDate = strictIsoDate(Number(committerParts[3]), committerParts[4] ?? "");
  if (committerDate === undefined) return undefined;

  let decode: (text: string) => string;
  if (encoding === undefined || utf8Names.test(encoding)) {
    decode = (text) => Buffer.from(text, "latin1").toString("utf8");
  } else if (latin1Names.test(encoding)) decode = (text) => text;
  else return undefined;
  return {
    tree: tree.toLowerCase(),
    parents,
    authorName: decode((authorParts[1] ?? "").replace(/[ \t\n\r]+$/, "")),
    authorEmail: decode(authorParts[2] ?? ""),
    committerDate,
    message: decode(raw.slice(blank + 2)),
  };
}
