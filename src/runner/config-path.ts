import { homedir } from "node:os";
import { join } from "node:path";

/** `$XDG_CONFIG_HOME/pier/config.toml`, by default `~/.config/pier/config.toml`. */
export function defaultRunnerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env["XDG_CONFIG_HOME"];
  // A relative XDG_CONFIG_HOME is invalid per the XDG spec and ignored.
  const base =
    xdg !== undefined && xdg.startsWith("/") ? xdg : join(env["HOME"] ?? homedir(), ".config");
  return join(base, "pier", "config.toml");
}
