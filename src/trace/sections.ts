import { ANSI_CLEAR } from "./ansi.ts";

/** The build stages gitlab-runner wraps in collapsible sections, in the order they run. */
export type SectionName =
  | "prepare_executor"
  | "prepare_script"
  | "get_sources"
  | "restore_cache"
  | "download_artifacts"
  | "step_script"
  | "after_script"
  | "archive_cache"
  | "archive_cache_on_failure"
  | "upload_artifacts_on_success"
  | "upload_artifacts_on_failure"
  | "cleanup_file_variables";

export interface SectionOptions {
  collapsed?: boolean;
  hideDuration?: boolean;
}

const SECTION_NAME = /^[a-zA-Z0-9_.-]+$/;

function checkName(name: string): void {
  if (!SECTION_NAME.test(name)) throw new Error(`invalid trace section name: ${name}`);
}

function optionsSuffix(options: SectionOptions): string {
  const parts: string[] = [];
  if (options.collapsed === true) parts.push("collapsed=true");
  if (options.hideDuration === true) parts.push("hide_duration=true");
  return parts.length === 0 ? "" : `[${parts.join(",")}]`;
}

/** `section_start:<unix seconds>:<name>[options]\r\e[0K`, as GitLab's log viewer parses it. */
export function sectionStartMarker(
  name: string,
  unixSeconds: number,
  options: SectionOptions = {},
): string {
  checkName(name);
  return `section_start:${unixSeconds}:${name}${optionsSuffix(options)}\r${ANSI_CLEAR}`;
}

export function sectionEndMarker(name: string, unixSeconds: number): string {
  checkName(name);
  return `section_end:${unixSeconds}:${name}\r${ANSI_CLEAR}`;
}
