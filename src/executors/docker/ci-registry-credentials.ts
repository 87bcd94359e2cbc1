import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";

/** One pipeline's registry login: CI_REGISTRY_USER and CI_REGISTRY_PASSWORD. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** GitLab's CI_REGISTRY_USER for job logins. */
export const CI_REGISTRY_USER = "gitlab-ci-token";

export function newRegistryCredentials(): RegistryCredentials {
  return { username: CI_REGISTRY_USER, password: randomBytes(24).toString("base64url") };
}

/**
 * An htpasswd file for the registry (bcrypt, the only scheme it accepts). A low cost is enough:
 * the password is random, lives for one pipeline and never leaves the machine.
 */
export function htpasswdLine(credentials: RegistryCredentials): string {
  return `${credentials.username}:${bcrypt.hashSync(credentials.password, 6)}\n`;
}
