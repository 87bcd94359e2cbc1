import { createHmac, randomInt } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const SYSTEM_ID_FILE = ".runner_system_id";
const VALID_SYSTEM_ID = /^[sr]_[0-9a-zA-Z]{12}$/;
const ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `.runner_system_id` next to config.toml, where gitlab-runner keeps it. */
export function systemIdFile(configFile: string): string {
  return join(dirname(configFile), SYSTEM_ID_FILE);
}

/**
 * Derives the id from the machine id like gitlab-runner (`s_` + 12 hex of an HMAC), so pier
 * and gitlab-runner on one host present as the same runner manager; `r_` + random otherwise.
 */
export function newSystemId(machineIdFile = "/etc/machine-id"): string {
  let machineId = "";
  try {
    machineId = readFileSync(machineIdFile, "utf8").trim();
  } catch {
    // No machine id: a random one, as gitlab-runner does.
  }
  if (machineId !== "") {
    const digest = createHmac("sha256", machineId).update("gitlab-runner").digest("hex");
    return `s_${digest.slice(0, 12)}`;
  }
  let id = "r_";
  for (let i = 0; i < 12; i += 1) id += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return id;
}

/** Reads the system id next to config.toml, creating it on first use. */
export function loadSystemId(configFile: string, machineIdFile?: string): string {
  const file = systemIdFile(configFile);
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (VALID_SYSTEM_ID.test(existing)) return existing;
  } catch {
    // Absent: create it below.
  }
  const id = newSystemId(machineIdFile);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, id, { mode: 0o600 });
  return id;
}
