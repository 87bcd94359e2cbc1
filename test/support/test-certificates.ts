import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** Paths of the PEM files makeTestCertificates writes (all in the directory it was given). */
export interface TestCertificates {
  /** ca.pem: the CA both certificates are signed with. */
  ca: string;
  /** server.pem and server-key.pem: for IP 127.0.0.1, extendedKeyUsage serverAuth. */
  serverCert: string;
  serverKey: string;
  /** client.pem and client-key.pem: extendedKeyUsage clientAuth. */
  clientCert: string;
  clientKey: string;
}

const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/**
 * Makes a private CA and, signed by it, a server certificate for 127.0.0.1 and a client
 * certificate, with openssl, in `dir`: ca.pem, ca-key.pem, server.pem, server-key.pem,
 * client.pem, client-key.pem (and the .csr/.ext/.srl files openssl needs). Valid for one day.
 */
export function makeTestCertificates(dir: string, caName = "pier-test-ca"): TestCertificates {
  const openssl = (args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  };
  const oneDay = ["-days", "1"];
  openssl(
    ["req", "-x509", ...ecKey, "-keyout", "ca-key.pem", "-out", "ca.pem", ...oneDay].concat([
      "-subj",
      `/CN=${caName}`,
    ]),
  );
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
  );
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage = clientAuth\n");
  for (const [name, subject] of [
    ["server", "/CN=127.0.0.1"],
    ["client", `/CN=${caName}-client`],
  ] as const) {
    openssl([
      "req",
      ...ecKey,
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    ]);
    openssl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem"].concat([
        "-CAcreateserial",
        "-out",
        `${name}.pem`,
        ...oneDay,
        "-extfile",
        `${name}.ext`,
      ]),
    );
  }
  return {
    ca: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server-key.pem"),
    clientCert: join(dir, "client.pem"),
    clientKey: join(dir, "client-key.pem"),
  };
}
